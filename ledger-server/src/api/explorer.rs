//! The explorer's files at `/` (spec/api.md §7) and cross-origin reads of the
//! public API (spec/api.md §1.4).
//!
//! The explorer is a static web app that verifies the log in the browser. The
//! server only hands out its files: with `explorer_dir` set, a GET for a path
//! that is not an API route is answered from that directory, and a path that
//! names no file (a page of the app, such as `/entries/7`) gets `index.html`,
//! so links into the app work. Paths under the API's prefixes keep their JSON
//! 404.

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use super::ApiError;

/// The content security policy of the explorer's pages: its own scripts and
/// styles only; reads from any log or mirror (`connect-src *`), since the page
/// verifies what it reads; no frames, plugins or forms.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src *; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'; form-action 'none'";

/// Path prefixes of the API: an unknown path under one is the API's 404,
/// never a page of the explorer.
const API_PREFIXES: [&str; 6] = [
    "/v1/",
    "/tile/",
    "/checkpoint",
    "/healthz",
    "/metrics",
    "/openapi.json",
];

/// `Access-Control-Allow-Origin: *` on GET and HEAD: every read of the log is
/// public and verified by the reader, so a page or mirror on another origin may
/// read it (spec/api.md §1.4). No credentials and no other method are allowed
/// across origins, so a browser never sends an agency's signed request or a
/// payload read from another site.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD])
}

/// `router`, with the explorer in `dir` served for every other GET.
pub fn with_explorer(router: Router, dir: &Path) -> Router {
    let assets = ServeDir::new(dir);
    let pages = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    router.fallback(move |req: Request| {
        let (assets, pages) = (assets.clone(), pages.clone());
        async move { page(assets, pages, req).await }
    })
}

async fn page(assets: ServeDir, pages: ServeDir<ServeFile>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        || API_PREFIXES.iter().any(|p| path.starts_with(p))
    {
        return ApiError::not_found("no such resource").into_response();
    }
    // Vite names built assets by their content hash: they never change, and a
    // missing one is a 404, not the app's page.
    let immutable = path.starts_with("/assets/");
    let resp = if immutable {
        assets.oneshot(req).await.map(|r| r.map(Body::new))
    } else {
        pages.oneshot(req).await.map(|r| r.map(Body::new))
    };
    let mut resp = match resp {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let cache = if immutable && resp.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use http_body_util::BodyExt as _;

    async fn call(app: &Router, method: Method, path: &str) -> (u16, Response) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        (resp.status().as_u16(), resp)
    }

    async fn text(resp: Response) -> String {
        String::from_utf8(
            resp.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn serves_the_app_and_keeps_api_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>app</html>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)").unwrap();
        let api = Router::new()
            .route("/checkpoint", get(|| async { "cp" }))
            .fallback(|| async { ApiError::not_found("no such resource") });
        let app = with_explorer(api, dir.path()).layer(cors());

        let (s, r) = call(&app, Method::GET, "/").await;
        assert_eq!(s, 200);
        assert!(
            r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(text(r).await, "<html>app</html>");
        // A page of the app: index.html.
        let (s, r) = call(&app, Method::GET, "/entries/7").await;
        assert_eq!(s, 200);
        assert_eq!(text(r).await, "<html>app</html>");
        // An asset: immutable; a missing one is 404, not the page.
        let (s, r) = call(&app, Method::GET, "/assets/app-1a2b.js").await;
        assert_eq!(s, 200);
        assert!(
            r.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let (s, _) = call(&app, Method::GET, "/assets/gone.js").await;
        assert_eq!(s, 404);
        // The API keeps its own answers and its JSON 404s.
        let (s, r) = call(&app, Method::GET, "/checkpoint").await;
        assert_eq!((s, text(r).await.as_str()), (200, "cp"));
        for path in ["/v1/nothing", "/tile/x", "/checkpoints"] {
            let (s, r) = call(&app, Method::GET, path).await;
            assert_eq!(s, 404, "{path}");
            assert!(text(r).await.contains("\"error\""), "{path}");
        }
        // Only GET and HEAD reach the files; no escape from the directory.
        let (s, _) = call(&app, Method::POST, "/").await;
        assert_eq!(s, 404);
        let (_, r) = call(&app, Method::GET, "/../../etc/passwd").await;
        assert!(!text(r).await.contains("root:"));
    }

    #[tokio::test]
    async fn reads_are_allowed_from_any_origin_and_nothing_else_is() {
        let app = Router::new()
            .route(
                "/checkpoint",
                get(|| async { "cp" }).post(|| async { "no" }),
            )
            .layer(cors());
        let req = Request::builder()
            .uri("/checkpoint")
            .header(header::ORIGIN, "https://mirror.example")
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        // A preflight for a POST with a signature header is not approved.
        let req = Request::builder()
            .method(Method::OPTIONS)
            .uri("/checkpoint")
            .header(header::ORIGIN, "https://elsewhere.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let allowed = resp
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_METHODS)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(!allowed.contains("POST"), "{allowed}");
        assert!(
            resp.headers()
                .get(header::ACCESS_CONTROL_ALLOW_HEADERS)
                .is_none()
        );
    }
}
