//! Why a request frame is refused, and the status byte a response carries
//! to say so.

/// Why a request frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than a header; read more before parsing.
    #[error("frame truncated: {have} of {need} bytes")]
    Truncated { have: usize, need: usize },
    /// The first four bytes are not the magic: not a synthetic client, or out of step.
    #[error("bad magic {found:02x?}: expected \"SBQ1\"")]
    BadMagic { found: [u8; 4] },
    /// The payload is larger than the server's `max_payload`.
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    PayloadTooLarge { len: u32, max: u32 },
    /// The requested response is larger than the server's `max_response`.
    #[error("response of {len} bytes exceeds the limit of {max} bytes")]
    ResponseTooLarge { len: u32, max: u32 },
    /// The request asks for more CPU or waiting time than the server allows.
    #[error("request asks for {cpu_us} us of CPU and {wait_us} us of waiting, over the limits")]
    TooSlow { cpu_us: u32, wait_us: u32 },
    /// A datagram whose length disagrees with its header.
    #[error("datagram of {len} bytes does not match its header ({expected} bytes)")]
    DatagramLength { len: usize, expected: usize },
}

impl FrameError {
    /// The status byte sent back for this error.
    pub fn status(&self) -> Status {
        match self {
            FrameError::Truncated { .. } | FrameError::DatagramLength { .. } => Status::Truncated,
            FrameError::BadMagic { .. } => Status::BadMagic,
            FrameError::PayloadTooLarge { .. } | FrameError::ResponseTooLarge { .. } => {
                Status::TooLarge
            }
            FrameError::TooSlow { .. } => Status::TooSlow,
        }
    }

    /// Whether the frame broke a size limit (as opposed to being malformed).
    pub fn is_oversized(&self) -> bool {
        matches!(
            self,
            FrameError::PayloadTooLarge { .. } | FrameError::ResponseTooLarge { .. }
        )
    }
}

/// The status byte of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Ok = 0,
    BadMagic = 1,
    TooLarge = 2,
    TooSlow = 3,
    Truncated = 4,
    /// A status byte this version does not know.
    Unknown = 255,
}

impl From<u8> for Status {
    fn from(b: u8) -> Self {
        match b {
            0 => Status::Ok,
            1 => Status::BadMagic,
            2 => Status::TooLarge,
            3 => Status::TooSlow,
            4 => Status::Truncated,
            _ => Status::Unknown,
        }
    }
}
