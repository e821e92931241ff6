//! UDP sockets and batched datagram I/O for one shard.
//!
//! Owns: creating the SO_REUSEPORT sockets (socket2), sizing their kernel buffers, and the two
//! batch structures that move datagrams with one syscall per batch: [`RxBatch`] (`recvmmsg`
//! into a pool of slots allocated once) and [`TxBatch`] (`sendmmsg` straight from the
//! shard's payload buffers). Both use `MSG_DONTWAIT` on the raw fd; waiting is the shard
//! driver's job. Nothing here allocates after construction.

use crate::core::shard::Transmit;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

/// Size of one receive slot. No IPv4 or non-jumbo IPv6 datagram is larger, so `MSG_TRUNC`
/// only ever flags a jumbogram.
pub(crate) const SLOT: usize = 65536;

/// Largest batch one `recvmmsg`/`sendmmsg` call takes (the kernel's `UIO_MAXIOV`).
pub(crate) const MAX_BATCH: usize = 1024;

/// Kernel buffer sizes to ask for; 0 keeps the kernel default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferSizes {
    pub recv: usize,
    pub send: usize,
}

/// What the kernel granted, read back after setting (Linux reports double the request, the
/// other half being its bookkeeping allowance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Granted {
    pub recv: usize,
    pub send: usize,
    /// `net.core.rmem_max` / `wmem_max` cut a request short.
    pub recv_capped: bool,
    pub send_capped: bool,
}

/// A blocking-mode UDP socket with SO_REUSEPORT (and IPV6_V6ONLY for IPv6) bound to `addr`,
/// so that every shard can bind the same address and the kernel spreads peers across them.
/// Blocking mode is deliberate: every direct call passes `MSG_DONTWAIT`, and io_uring waits
/// on the socket without the -EAGAIN round trip a non-blocking fd costs it.
pub(crate) fn bind(addr: SocketAddr, sizes: BufferSizes) -> io::Result<(Socket, Granted)> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM.cloexec(),
        Some(Protocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    let recv_capped = set_buffer(&socket, sizes.recv, libc::SO_RCVBUF, libc::SO_RCVBUFFORCE)?;
    let send_capped = set_buffer(&socket, sizes.send, libc::SO_SNDBUF, libc::SO_SNDBUFFORCE)?;
    socket.bind(&SockAddr::from(addr))?;
    let granted = Granted {
        recv: socket.recv_buffer_size()?,
        send: socket.send_buffer_size()?,
        recv_capped,
        send_capped,
    };
    Ok((socket, granted))
}

/// Sets one buffer size; when `net.core.[rw]mem_max` caps it, retries with the `*FORCE`
/// option (allowed with CAP_NET_ADMIN). Returns whether the kernel still capped it.
fn set_buffer(
    socket: &Socket,
    want: usize,
    opt: libc::c_int,
    force: libc::c_int,
) -> io::Result<bool> {
    if want == 0 {
        return Ok(false);
    }
    let want = want.min(i32::MAX as usize / 2);
    setsockopt_int(socket.as_raw_fd(), opt, want as libc::c_int)?;
    if getsockopt_int(socket.as_raw_fd(), opt)? as usize >= 2 * want {
        return Ok(false);
    }
    // Capped by the sysctl. A failure here (EPERM without CAP_NET_ADMIN) leaves the capped
    // value in place, which the caller reports.
    let _ = setsockopt_int(socket.as_raw_fd(), force, want as libc::c_int);
    Ok((getsockopt_int(socket.as_raw_fd(), opt)? as usize) < 2 * want)
}

fn setsockopt_int(fd: RawFd, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn getsockopt_int(fd: RawFd, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live and writable; `len` holds value's size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// One datagram of a received batch.
#[derive(Debug)]
pub(crate) struct Datagram<'a> {
    /// Source address; `None` if the kernel handed back something that is not IPv4/IPv6.
    pub remote: Option<SocketAddr>,
    pub bytes: &'a [u8],
    /// Larger than a slot; `bytes` holds only its head.
    pub truncated: bool,
}

/// The receive pool of one shard: `batch` slots of [`SLOT`] bytes plus the `recvmmsg` headers
/// that point into them, all allocated once.
pub(crate) struct RxBatch {
    slots: Box<[u8]>,
    iovs: Box<[libc::iovec]>,
    names: Box<[libc::sockaddr_storage]>,
    hdrs: Box<[libc::mmsghdr]>,
    /// Datagrams the last `recv` filled.
    filled: usize,
}

impl RxBatch {
    /// `batch` is clamped to `1..=MAX_BATCH`.
    pub fn new(batch: usize) -> Self {
        let batch = batch.clamp(1, MAX_BATCH);
        // NOTE: iovec, sockaddr_storage and mmsghdr are plain C structs; all-zero is valid
        // for each (null pointers, zero lengths), and `recv` fills the pointers before use.
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        RxBatch {
            slots: vec![0u8; batch * SLOT].into_boxed_slice(),
            iovs: vec![zero_iov; batch].into_boxed_slice(),
            names: (0..batch).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..batch).map(|_| unsafe { zeroed() }).collect(),
            filled: 0,
        }
    }

    /// Slots in the pool.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Takes up to `capacity()` datagrams from `fd` in one `recvmmsg(MSG_DONTWAIT)`. Returns
    /// how many; `Err(WouldBlock)` when the socket is empty.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.filled = 0;
        let slots = self.slots.as_mut_ptr();
        let iovs = self.iovs.as_mut_ptr();
        let names = self.names.as_mut_ptr();
        for (i, hdr) in self.hdrs.iter_mut().enumerate() {
            // SAFETY: i < capacity, and every array has `capacity` entries (slots: × SLOT).
            unsafe {
                *iovs.add(i) = libc::iovec {
                    iov_base: slots.add(i * SLOT).cast(),
                    iov_len: SLOT,
                };
                hdr.msg_hdr.msg_name = names.add(i).cast();
                hdr.msg_hdr.msg_iov = iovs.add(i);
            }
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        loop {
            // SAFETY: `hdrs` holds `capacity` headers whose pointers all point into this
            // batch's own arrays, which outlive the call.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    self.hdrs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                self.filled = n as usize;
                return Ok(self.filled);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Datagram `i` of the last [`RxBatch::recv`] (`i` below what it returned).
    pub fn datagram(&self, i: usize) -> Datagram<'_> {
        debug_assert!(i < self.filled);
        let hdr = &self.hdrs[i];
        // NOTE: the kernel never reports more than the iovec's length, but the slot bound
        // makes that true here regardless.
        let len = (hdr.msg_len as usize).min(SLOT);
        let start = i * SLOT;
        let namelen = hdr
            .msg_hdr
            .msg_namelen
            .min(size_of::<libc::sockaddr_storage>() as libc::socklen_t);
        // SAFETY: the storage is initialised (zeroed at construction, then written by the
        // kernel) and `namelen` is within its size.
        let remote = unsafe { SockAddr::new(self.names[i], namelen) }.as_socket();
        Datagram {
            remote,
            bytes: &self.slots[start..start + len],
            truncated: hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        }
    }
}

/// `sendmmsg` scratch for one task: headers, iovecs and encoded destinations for up to
/// `capacity()` datagrams, pointing straight at the shard's payload buffers (no copy).
pub(crate) struct TxBatch {
    iovs: Box<[libc::iovec]>,
    names: Box<[libc::sockaddr_storage]>,
    hdrs: Box<[libc::mmsghdr]>,
}

impl TxBatch {
    /// `batch` is clamped to `1..=MAX_BATCH`.
    pub fn new(batch: usize) -> Self {
        let batch = batch.clamp(1, MAX_BATCH);
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        TxBatch {
            iovs: vec![zero_iov; batch].into_boxed_slice(),
            // NOTE: plain C structs, all-zero is valid; `send` fills them before use.
            names: (0..batch).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..batch).map(|_| unsafe { zeroed() }).collect(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Sends `outbox[i]` for the leading `i` of `which` (at most `capacity()` of them) from
    /// `fd` in one `sendmmsg(MSG_DONTWAIT)`. Returns how many the kernel took, always at least
    /// one, or the error the first of them met (`WouldBlock` when the send buffer is full).
    pub fn send(&mut self, fd: RawFd, outbox: &[Transmit], which: &[usize]) -> io::Result<usize> {
        let n = which.len().min(self.capacity());
        if n == 0 {
            return Ok(0);
        }
        let iovs = self.iovs.as_mut_ptr();
        let names = self.names.as_mut_ptr();
        for (k, &i) in which[..n].iter().enumerate() {
            let t = &outbox[i];
            let to = SockAddr::from(t.remote);
            let to_len = to.len();
            let hdr = &mut self.hdrs[k];
            // SAFETY: k < capacity; both arrays have `capacity` entries. The iovec points at
            // the payload, which `outbox` keeps alive and unmodified across the call.
            unsafe {
                *names.add(k) = to.as_storage();
                *iovs.add(k) = libc::iovec {
                    iov_base: t.payload.as_ptr() as *mut libc::c_void,
                    iov_len: t.payload.len(),
                };
                hdr.msg_hdr.msg_name = names.add(k).cast();
                hdr.msg_hdr.msg_iov = iovs.add(k);
            }
            hdr.msg_hdr.msg_namelen = to_len;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        loop {
            // SAFETY: the first `n` headers were filled above and point at live memory.
            let sent = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if sent > 0 {
                return Ok(sent as usize);
            }
            if sent == 0 {
                // Not something Linux does for n > 0; reported as an error so callers always
                // make progress.
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "sendmmsg sent nothing",
                ));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    fn loopback_pair() -> (Socket, SocketAddr, UdpSocket) {
        let (s, _) = bind(
            "127.0.0.1:0".parse().unwrap(),
            BufferSizes {
                recv: 1 << 20,
                send: 1 << 20,
            },
        )
        .unwrap();
        let addr = s.local_addr().unwrap().as_socket().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        (s, addr, peer)
    }

    /// Polls `rx.recv` until `want` datagrams came in or 5 s passed.
    fn recv_all(rx: &mut RxBatch, fd: RawFd, want: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < want && Instant::now() < deadline {
            match rx.recv(fd) {
                Ok(n) => {
                    for i in 0..n {
                        let d = rx.datagram(i);
                        assert!(!d.truncated);
                        got.push((d.bytes.to_vec(), d.remote.unwrap()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(e) => panic!("recvmmsg: {e}"),
            }
        }
        got
    }

    #[test]
    fn empty_socket_would_block() {
        let (s, _, _) = loopback_pair();
        let mut rx = RxBatch::new(4);
        assert_eq!(
            rx.recv(s.as_raw_fd()).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn recvmmsg_takes_a_batch_with_sources() {
        let (s, addr, peer) = loopback_pair();
        for i in 0..6u8 {
            peer.send_to(&[i; 3], addr).unwrap();
        }
        peer.send_to(&[], addr).unwrap();
        let mut rx = RxBatch::new(4);
        let got = recv_all(&mut rx, s.as_raw_fd(), 7);
        assert_eq!(got.len(), 7);
        for (i, (bytes, from)) in got.iter().take(6).enumerate() {
            assert_eq!(bytes, &vec![i as u8; 3]);
            assert_eq!(*from, peer.local_addr().unwrap());
        }
        assert!(
            got[6].0.is_empty(),
            "a zero-length datagram is still a datagram"
        );
    }

    #[test]
    fn largest_udp_datagram_fits_a_slot() {
        let (s, addr, peer) = loopback_pair();
        let big = vec![0x5a; 65_507];
        peer.send_to(&big, addr).unwrap();
        let mut rx = RxBatch::new(1);
        let got = recv_all(&mut rx, s.as_raw_fd(), 1);
        assert_eq!(got[0].0.len(), 65_507);
    }

    #[test]
    fn sendmmsg_sends_the_selected_transmits_in_order() {
        let (s, addr, peer) = loopback_pair();
        let to = peer.local_addr().unwrap();
        let outbox: Vec<Transmit> = (0..5u8)
            .map(|i| Transmit {
                flow: crate::core::shard::Flow::Udp,
                local: addr,
                remote: to,
                payload: vec![i; 10 + i as usize],
                token: 0,
            })
            .collect();
        let mut tx = TxBatch::new(3);
        let which = [0usize, 2, 4, 1];
        let mut k = 0;
        while k < which.len() {
            k += tx.send(s.as_raw_fd(), &outbox, &which[k..]).unwrap();
        }
        let mut buf = [0u8; 64];
        for want in [0u8, 2, 4, 1] {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert_eq!(&buf[..n], &vec![want; 10 + want as usize][..]);
        }
    }

    #[test]
    fn sendmmsg_reports_a_family_mismatch_as_an_error() {
        let (s, addr, _) = loopback_pair();
        let outbox = vec![Transmit {
            flow: crate::core::shard::Flow::Udp,
            local: addr,
            remote: "[::1]:9".parse().unwrap(),
            payload: vec![1],
            token: 0,
        }];
        let mut tx = TxBatch::new(2);
        assert!(tx.send(s.as_raw_fd(), &outbox, &[0]).is_err());
    }

    #[test]
    fn v6_socket_is_v6_only() {
        let Ok((s, _)) = bind("[::1]:0".parse().unwrap(), BufferSizes { recv: 0, send: 0 }) else {
            return; // no IPv6 on this host
        };
        assert!(s.only_v6().unwrap());
    }

    #[test]
    fn two_reuseport_sockets_share_a_port() {
        let sizes = BufferSizes { recv: 0, send: 0 };
        let (a, _) = bind("127.0.0.1:0".parse().unwrap(), sizes).unwrap();
        let addr = a.local_addr().unwrap().as_socket().unwrap();
        let (b, _) = bind(addr, sizes).unwrap();
        assert_eq!(b.local_addr().unwrap().as_socket().unwrap(), addr);
    }

    #[test]
    fn granted_buffer_is_reported() {
        let (_, granted) = bind(
            "127.0.0.1:0".parse().unwrap(),
            BufferSizes {
                recv: 256 << 10,
                send: 256 << 10,
            },
        )
        .unwrap();
        assert!(granted.recv > 0 && granted.send > 0);
        assert_eq!(granted.recv_capped, granted.recv < 512 << 10);
    }
}
