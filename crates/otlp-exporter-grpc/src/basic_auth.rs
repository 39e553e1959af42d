//! [`basic_credentials`]: HTTP Basic credentials from a URL's user-info,
//! for an endpoint's `authorization` and a proxy's `Proxy-Authorization`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

/// `Basic <base64 of user:password>` for a URL's user-info (`user` or
/// `user:password`, percent-encoded): an endpoint's `authorization`, a
/// proxy's `Proxy-Authorization`. `None` when either part is not UTF-8 once
/// decoded.
pub(crate) fn basic_credentials(user_info: &str) -> Option<String> {
    // The first unencoded `:` ends the user name, and each part is decoded
    // on its own (a `%3A` stays in the user name); without a password, it
    // is empty: the credentials reqwest and curl send for the same URL.
    let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
    let user = percent_decode_str(user).decode_utf8().ok()?;
    let password = percent_decode_str(password).decode_utf8().ok()?;
    let credentials = format!("{user}:{password}");
    Some(format!("Basic {}", STANDARD.encode(credentials)))
}
