//! Bytes-like arguments through the buffer protocol: `bytes`, `bytearray`,
//! `memoryview`, `array.array`, numpy arrays and ctypes objects, any
//! C-contiguous exporter, without a copy.

use std::mem::MaybeUninit;

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// A held buffer view of one object; released (with the GIL, which every
/// `Buffer` is dropped under: it is not `Send`) when dropped.
pub struct Buffer(Box<ffi::Py_buffer>);

impl Buffer {
    /// The contiguous bytes of `obj`, read-only.
    pub fn read(obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
        Buffer::get(obj, ffi::PyBUF_SIMPLE)
    }

    /// The contiguous bytes of `obj`, to be written.
    pub fn write(obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
        Buffer::get(obj, ffi::PyBUF_WRITABLE)
    }

    fn get(obj: &Bound<'_, PyAny>, flags: std::ffi::c_int) -> PyResult<Buffer> {
        let mut view = Box::new(MaybeUninit::<ffi::Py_buffer>::zeroed());
        // SAFETY: `obj` is a live object (a `Bound` holds a reference and
        // the GIL); `view` points at writable memory for one `Py_buffer`,
        // which the call fills on success.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), flags) } != 0 {
            return Err(PyErr::take(obj.py())
                .unwrap_or_else(|| PyBufferError::new_err("the object exports no buffer")));
        }
        // SAFETY: PyObject_GetBuffer succeeded, so it initialised the view.
        let view = unsafe { Box::from_raw(Box::into_raw(view).cast::<ffi::Py_buffer>()) };
        Ok(Buffer(view))
    }

    /// The exported bytes. Like `bytes`-like arguments of `file.write`, a
    /// mutable exporter (a `bytearray`) that another Python thread writes
    /// while a call without the GIL reads it gives a torn message, never a
    /// fault: the exporter keeps the memory and its size while exported.
    pub fn as_slice(&self) -> &[u8] {
        if self.0.len <= 0 || self.0.buf.is_null() {
            return &[];
        }
        // SAFETY: a held simple view describes `len` contiguous readable
        // bytes at `buf`, valid until PyBuffer_Release (in `drop`), which
        // the borrow of `self` cannot outlive.
        unsafe { std::slice::from_raw_parts(self.0.buf.cast::<u8>(), self.0.len as usize) }
    }

    /// The exported bytes, writable (a view got by [`Buffer::write`]).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.0.len <= 0 || self.0.buf.is_null() {
            return &mut [];
        }
        // SAFETY: as in `as_slice`; the view was requested with
        // PyBUF_WRITABLE, so the exporter granted write access, and `&mut
        // self` makes this the one Rust borrow of it.
        unsafe { std::slice::from_raw_parts_mut(self.0.buf.cast::<u8>(), self.0.len as usize) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the view was filled by a successful PyObject_GetBuffer and
        // is released once; `Buffer` is not `Send`, so this thread holds the
        // GIL as it did when the view was made.
        unsafe { ffi::PyBuffer_Release(&mut *self.0) };
    }
}
