import { defineConfig } from 'vite';

// Relative asset URLs, so the built page also works from a static mirror's
// sub-directory or a file copy (open it with ?log=URL).
export default defineConfig({
  base: './',
  build: { target: 'es2022', sourcemap: false, assetsInlineLimit: 0 },
});
