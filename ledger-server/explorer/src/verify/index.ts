/**
 * The explorer's verification module: pure functions over bytes, no DOM and no
 * network (the tile reader takes a fetch function from its caller). Each file
 * implements one spec concept; see its header for the section.
 */
export * from './bytes';
export * from './ed25519';
export * from './note';
export * from './checkpoint';
export * from './merkle';
export * from './tiles';
export * from './json';
export * from './entry';
export * from './receipt';
export * from './policy';
export * from './evidence';
export * from './history';
