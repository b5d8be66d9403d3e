//! The receiving side of signed requests ([`poshuk_protocol::signed`]):
//! the header is checked before the body is read, and the body is checked
//! against the signed digest as it is read, so a handler never sees a body
//! other than the one signed.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use http_body::Frame;
use poshuk_protocol::signed::{ReplayGuard, SignatureError, SignedHeader, now_ms};
use sha2::{Digest, Sha256};

/// Verifies a request's `Poshuk-Signed` header with the secret
/// `secret_of(key_id)` gives (None: an unknown key), checks that the
/// connection may carry that signer (`may_sign`: over mutual TLS, the
/// certificate's party), then remembers its nonce in `replays`, and returns
/// the key id with the request, its body now checked against the signed
/// digest while it is read (a mismatch fails the read with
/// [`SignatureError::BodyMismatch`]). The party is checked before the nonce
/// is spent: a header seen by another party and sent first from its own
/// host must not use up the honest request's nonce.
pub fn verify_signed_request<S: AsRef<[u8]>>(
    request: Request,
    secret_of: impl FnOnce(&str) -> Option<S>,
    may_sign: impl FnOnce(&str) -> bool,
    replays: &ReplayGuard,
) -> Result<(String, Request), SignatureError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(SignatureError::Missing)?
        .to_str()
        .map_err(|_| SignatureError::Malformed("not text"))?;
    let signed = SignedHeader::parse(value)?;
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|path| path.as_str())
        .unwrap_or("/");
    let verified = match secret_of(signed.key_id()) {
        Some(secret) => signed.verify(
            secret.as_ref(),
            request.method().as_str(),
            path_and_query,
            now_ms(),
        ),
        None => {
            // The same work for an unknown key id: the time taken must not
            // tell which ids exist.
            let _ = signed.verify(
                UNKNOWN_KEY_SECRET,
                request.method().as_str(),
                path_and_query,
                now_ms(),
            );
            Err(SignatureError::UnknownKey)
        }
    };
    verified?;
    if !may_sign(signed.key_id()) {
        return Err(SignatureError::WrongParty);
    }
    replays.check(&signed)?;
    let expected = signed.body_sha256();
    let mut request = request.map(|body| {
        Body::new(DigestCheckedBody {
            inner: body,
            hasher: Some(Sha256::new()),
            expected,
        })
    });
    request.extensions_mut().insert(SignedBody(expected));
    Ok((signed.key_id().to_string(), request))
}

/// The SHA-256 of a signed request's body, as signed (the body is checked
/// against it as it is read): what an audit fingerprint can key, instead
/// of hashing a search's body a second time.
#[derive(Debug, Clone, Copy)]
pub struct SignedBody(pub [u8; 32]);

/// What an unknown key id's MAC is computed with.
const UNKNOWN_KEY_SECRET: &[u8] = b"poshuk: no such key id, the same work as for a known one";

/// True when reading a body failed because it is not the one signed.
pub fn is_body_mismatch(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.downcast_ref::<SignatureError>() == Some(&SignatureError::BodyMismatch) {
            return true;
        }
        source = error.source();
    }
    false
}

/// A body hashed as it is read; at its end, compared with the signed digest.
struct DigestCheckedBody {
    inner: Body,
    /// None once the end was checked.
    hasher: Option<Sha256>,
    expected: [u8; 32],
}

impl http_body::Body for DigestCheckedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(context) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(hasher)) = (frame.data_ref(), this.hasher.as_mut()) {
                    hasher.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                let digest = this
                    .hasher
                    .take()
                    .map(|hasher| <[u8; 32]>::from(hasher.finalize()));
                if digest.is_some_and(|digest| digest != this.expected) {
                    Poll::Ready(Some(Err(axum::Error::new(SignatureError::BodyMismatch))))
                } else {
                    Poll::Ready(None)
                }
            }
            other => other,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
