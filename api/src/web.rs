//! The dashboard: the React app built into `web/dist`, embedded in the binary (read from disk
//! in debug builds) and served at `/`, with every unknown path answering `index.html` so the
//! app's own router handles it. The build writes brotli and gzip variants beside each text asset
//! (`web/scripts/precompress.ts`); a browser that accepts one gets it, with `Vary: Accept-Encoding`.

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(rust_embed::RustEmbed)]
#[folder = "$CREDLEDGER_WEB_DIST"]
#[allow_missing = true]
struct Assets;

pub fn routes() -> Router {
    Router::new().fallback(axum::routing::get(serve))
}

/// The precompressed variant of `path` the request accepts, brotli first: its file and encoding.
fn compressed(path: &str, headers: &HeaderMap) -> Option<(rust_embed::EmbeddedFile, &'static str)> {
    let accepted = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(coding, _)| accepts(accepted, coding))
        .find_map(|(coding, ext)| Assets::get(&format!("{path}.{ext}")).map(|f| (f, coding)))
}

/// Whether an `Accept-Encoding` value lists `coding` without refusing it: a weight of zero
/// (`q=0`, `q=0.0`, `Q=0.000`) refuses (RFC 9110 §12.4.2); codings and the parameter's name are
/// case-insensitive.
fn accepts(accepted: &str, coding: &str) -> bool {
    let refuses = |field: &str| {
        let field = field.replace(' ', "");
        field
            .get(..2)
            .is_some_and(|name| name.eq_ignore_ascii_case("q="))
            && field.get(2..).and_then(|q| q.parse::<f32>().ok()) == Some(0.0)
    };
    accepted.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        fields
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(coding))
            && !fields.any(refuses)
    })
}

fn with_encoding(
    path: &str,
    plain: rust_embed::EmbeddedFile,
    headers: &HeaderMap,
) -> (rust_embed::EmbeddedFile, Option<&'static str>) {
    match compressed(path, headers) {
        Some((file, coding)) => (file, Some(coding)),
        None => (plain, None),
    }
}

async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = (!path.is_empty()).then(|| Assets::get(path)).flatten() {
        let cache = if path.starts_with("assets/") {
            // Vite fingerprints these names: they never change.
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mime = file.metadata.mimetype().to_owned();
        let (body, coding) = with_encoding(path, file, &headers);
        return encoded(mime, cache, body.data, coding);
    }
    if path.starts_with("assets/") || path.starts_with("graphql") {
        return StatusCode::NOT_FOUND.into_response();
    }
    match Assets::get("index.html") {
        Some(index) => {
            let (body, coding) = with_encoding("index.html", index, &headers);
            encoded(
                "text/html; charset=utf-8".to_owned(),
                "no-cache",
                body.data,
                coding,
            )
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The dashboard is not built into this binary. Build it with \
             `npm ci && npm run build` in web/, then rebuild credledger.\n",
        )
            .into_response(),
    }
}

fn encoded(
    mime: String,
    cache: &'static str,
    body: std::borrow::Cow<'static, [u8]>,
    coding: Option<&'static str>,
) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, cache.to_owned()),
            (header::VARY, "accept-encoding".to_owned()),
        ],
        body,
    )
        .into_response();
    if let Some(coding) = coding {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static(coding),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            axum::http::HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn a_refused_coding_is_not_chosen() {
        // Whether or not web/dist is built, a coding with q=0 or one not listed never answers.
        assert!(compressed("index.html", &accepting("br;q=0, gzip;q=0")).is_none());
        assert!(compressed("index.html", &accepting("identity")).is_none());
        assert!(compressed("index.html", &accepting("br;q=0.0, gzip;Q=0.000")).is_none());
    }

    #[test]
    fn a_coding_is_accepted_whatever_its_case_and_refused_only_at_weight_zero() {
        for accepted in [
            "GZIP",
            "gzip;q=0.5",
            "gzip; Q=1",
            "br;q=0, gzip;q=0.001",
            "Gzip;q=1.0",
        ] {
            assert!(accepts(accepted, "gzip"), "{accepted}");
        }
        for refused in [
            "gzip;q=0",
            "gzip;q=0.0",
            "gzip; Q=0.000",
            "br",
            "identity",
            "",
        ] {
            assert!(!accepts(refused, "gzip"), "{refused}");
        }
    }
}
