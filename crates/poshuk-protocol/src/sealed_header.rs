//! The plain header line of a sealed epoch-key file.
//!
//! A sealed file travels from the admin through the coordinator's relay to
//! one partner's node. The coordinator must route it (which partner, which
//! epoch) without being able to open it, so the header is part of the wire
//! format and lives here; sealing and opening live in `poshuk-keys`, which
//! the coordinator does not link.
//!
//! Form: `poshuk-sealed-epoch/v1 partner=ID epoch=N signature=HEX`, a newline,
//! then the age ciphertext.

/// The first word of every sealed file.
pub const MAGIC: &str = "poshuk-sealed-epoch/v1";

/// How far into a file the header's newline may be.
const MAX_HEADER_BYTES: usize = 512;

/// What a sealed file's plain header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// The partner it is for.
    pub partner: String,
    /// The epoch it carries.
    pub epoch: u32,
    /// The admin's signature, if present.
    pub signature: Option<[u8; 64]>,
}

/// Why a header cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Not a sealed epoch file at all.
    #[error("not a poshuk sealed key file (its first line is not `{MAGIC} partner=... epoch=...`)")]
    NotSealedFile,
    /// The signature field is not 64 bytes of hex.
    #[error(
        "the sealed key's signature field is unreadable; refuse it and ask the admin to seal it again"
    )]
    BadSignatureField,
}

impl SealedHeader {
    /// The line a signature covers: the header without the signature.
    pub fn unsigned_line(partner: &str, epoch: u32) -> String {
        format!("{MAGIC} partner={partner} epoch={epoch}\n")
    }

    /// The full header line, with its newline.
    pub fn line(&self) -> String {
        let mut line = format!("{MAGIC} partner={} epoch={}", self.partner, self.epoch);
        if let Some(signature) = &self.signature {
            line.push_str(" signature=");
            line.push_str(&hex::encode(signature));
        }
        line.push('\n');
        line
    }
}

/// Reads the plain header of a sealed file, and the offset of the ciphertext.
pub fn read_header(sealed: &[u8]) -> Result<(SealedHeader, usize), HeaderError> {
    let end = sealed
        .iter()
        .take(MAX_HEADER_BYTES)
        .position(|&byte| byte == b'\n')
        .ok_or(HeaderError::NotSealedFile)?;
    let line = std::str::from_utf8(&sealed[..end]).map_err(|_| HeaderError::NotSealedFile)?;
    let mut words = line.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(HeaderError::NotSealedFile);
    }
    let (mut partner, mut epoch, mut signature) = (None, None, None);
    for word in words {
        match word.split_once('=') {
            Some(("partner", value)) => partner = Some(value.to_string()),
            Some(("epoch", value)) => epoch = value.parse::<u32>().ok(),
            Some(("signature", value)) => {
                let mut bytes = [0u8; 64];
                hex::decode_to_slice(value, &mut bytes)
                    .map_err(|_| HeaderError::BadSignatureField)?;
                signature = Some(bytes);
            }
            _ => return Err(HeaderError::NotSealedFile),
        }
    }
    match (partner, epoch) {
        (Some(partner), Some(epoch)) => Ok((
            SealedHeader {
                partner,
                epoch,
                signature,
            },
            end + 1,
        )),
        _ => Err(HeaderError::NotSealedFile),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_garbage_is_refused() {
        let header = SealedHeader {
            partner: "ngo-ua".into(),
            epoch: 3,
            signature: Some([7u8; 64]),
        };
        let mut file = header.line().into_bytes();
        let offset = file.len();
        file.extend_from_slice(b"\x00ciphertext");
        assert_eq!(read_header(&file), Ok((header, offset)));

        for garbage in [
            &b"plain text\n"[..],
            b"poshuk-sealed-epoch/v1 partner=a\n",
            b"poshuk-sealed-epoch/v1 partner=a epoch=x\n",
            b"poshuk-sealed-epoch/v1 partner=a epoch=2 extra\n",
            b"poshuk-sealed-epoch/v1 partner=a epoch=2",
        ] {
            assert_eq!(read_header(garbage), Err(HeaderError::NotSealedFile));
        }
        assert_eq!(
            read_header(b"poshuk-sealed-epoch/v1 partner=a epoch=2 signature=zz\n"),
            Err(HeaderError::BadSignatureField)
        );
        // A well-formed header whose newline lies past the cap is refused.
        let long = format!("{MAGIC} partner={} epoch=2\n", "a".repeat(600));
        assert_eq!(
            read_header(long.as_bytes()),
            Err(HeaderError::NotSealedFile)
        );
        let short = format!("{MAGIC} partner={} epoch=2\n", "a".repeat(400));
        assert!(read_header(short.as_bytes()).is_ok());
    }
}
