//! Reading and writing the spec's data representations (section 1.5): integers,
//! Variable Byte Integers, UTF-8 strings and binary data.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::DecodeError;

/// The largest value a Variable Byte Integer can carry.
pub const VARINT_MAX: u32 = 268_435_455;

/// A cursor over one packet's bytes; every read names the packet when it runs short.
pub(crate) struct Reader {
    buf: Bytes,
    packet: &'static str,
}

impl Reader {
    pub(crate) fn new(buf: Bytes, packet: &'static str) -> Reader {
        Reader { buf, packet }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated {
                packet: self.packet,
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.need(2)?;
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.need(4)?;
        Ok(self.buf.get_u32())
    }

    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        match parse_varint(&self.buf)? {
            Some((value, used)) => {
                self.buf.advance(used);
                Ok(value)
            }
            None => Err(DecodeError::Truncated {
                packet: self.packet,
            }),
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.buf.split_to(n))
    }

    /// Binary Data: a two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u16()? as usize;
        self.take(len)
    }

    /// A UTF-8 Encoded String, checked as section 1.5.4 demands; shares the packet's buffer.
    pub(crate) fn byte_string(&mut self) -> Result<ByteString, DecodeError> {
        let raw = self.binary()?;
        validate_utf8(&raw)?;
        ByteString::try_from(raw).map_err(|_| DecodeError::InvalidUtf8)
    }

    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        Ok(self.byte_string()?.to_string())
    }

    /// Everything left: the payload of a PUBLISH.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Splits off the next `n` bytes as a reader of their own (the property block).
    pub(crate) fn sub_reader(&mut self, n: usize) -> Result<Reader, DecodeError> {
        Ok(Reader::new(self.take(n)?, self.packet))
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                packet: self.packet,
                extra: self.buf.len(),
            })
        }
    }
}

/// Well-formed UTF-8 without U+0000 ([MQTT-1.5.3-1], [MQTT-1.5.3-2]). Rust's UTF-8 check
/// already refuses surrogates and overlong forms.
pub(crate) fn validate_utf8(raw: &[u8]) -> Result<(), DecodeError> {
    let text = std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8)?;
    if text.contains('\0') {
        return Err(DecodeError::NullCharacter);
    }
    Ok(())
}

/// Parses a Variable Byte Integer at the start of `buf`: `Ok(None)` when more bytes are needed.
pub fn parse_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // A last byte of 0 after the first means a shorter encoding existed.
            if i > 0 && *byte == 0 {
                return Err(DecodeError::VarIntNotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::VarIntTooLong)
    } else {
        Ok(None)
    }
}

pub(crate) fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` as a Variable Byte Integer (MQTT 5 section 1.5.5), as a Remaining Length
/// is written; `value` is at most [`VARINT_MAX`].
pub fn put_varint(out: &mut BytesMut, mut value: u32) {
    debug_assert!(value <= VARINT_MAX);
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Strings and binary data longer than 65,535 bytes cannot be encoded; callers check
/// lengths when they build packets, so this truncation never happens for valid packets.
pub(crate) fn put_binary(out: &mut BytesMut, data: &[u8]) {
    let len = data.len().min(u16::MAX as usize);
    out.put_u16(len as u16);
    out.put_slice(&data[..len]);
}

pub(crate) fn binary_len(data: &[u8]) -> usize {
    2 + data.len().min(u16::MAX as usize)
}
