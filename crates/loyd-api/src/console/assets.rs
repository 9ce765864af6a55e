//! The console's and the portal's static files, embedded in the binary and served under names that
//! carry a hash of their content (`/admin/assets/htmx-3f2a….js`), with a year-long
//! cache: a new binary with changed files changes their names.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    /// `htmx` or `console`.
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const FILES: [Asset; 6] = [
    Asset { stem: "htmx", ext: "js", content_type: "text/javascript; charset=utf-8", body: include_bytes!("../../assets/htmx/htmx-2.0.11.min.js") },
    Asset { stem: "console", ext: "css", content_type: "text/css; charset=utf-8", body: include_bytes!("../../assets/console/console.css") },
    Asset { stem: "portal", ext: "css", content_type: "text/css; charset=utf-8", body: include_bytes!("../../assets/portal/portal.css") },
    Asset { stem: "icon", ext: "svg", content_type: "image/svg+xml", body: include_bytes!("../../assets/portal/icon.svg") },
    Asset { stem: "icon-192", ext: "png", content_type: "image/png", body: include_bytes!("../../assets/portal/icon-192.png") },
    Asset { stem: "icon-512", ext: "png", content_type: "image/png", body: include_bytes!("../../assets/portal/icon-512.png") },
];

/// Each file's served name: stem, the first 12 hex digits of its SHA-256, extension.
fn names() -> &'static [String; FILES.len()] {
    static NAMES: OnceLock<[String; FILES.len()]> = OnceLock::new();
    NAMES.get_or_init(|| {
        FILES.each_ref().map(|a| {
            let hash = Sha256::digest(a.body);
            let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
            format!("{}-{hex}.{}", a.stem, a.ext)
        })
    })
}

/// The path a console page links to for the file of `stem`.
pub fn url(stem: &str) -> String {
    url_at("/admin", stem)
}

/// The path a page of the app at `base` (`/admin`, `/portal`) links to for the file
/// of `stem`: both serve the same files.
pub fn url_at(base: &str, stem: &str) -> String {
    let i = FILES.iter().position(|a| a.stem == stem).unwrap_or(0);
    format!("{base}/assets/{}", names()[i])
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match names().iter().position(|n| *n == name) {
        Some(i) => {
            let a = &FILES[i];
            ([(header::CONTENT_TYPE, a.content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], a.body).into_response()
        }
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such file").into_response(),
    }
}
