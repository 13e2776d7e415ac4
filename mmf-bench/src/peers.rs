//! Scenario 1 baselines from crates.io (feature `peers`): iceoryx2 publish-subscribe, Cloudflare
//! mmap-sync, and the shared_memory crate with a raw_sync event. Each carries the same 64-byte
//! payload both ways, through the crate's ordinary API, with a spinning reader.

use crate::harness::{say_ready, unique_name};
use crate::latency::{Class, child_common, drive};
use crate::{Config, PAYLOAD};

// ---- iceoryx2 -----------------------------------------------------------------------------------

mod ice {
    use iceoryx2::port::publisher::Publisher;
    use iceoryx2::port::subscriber::Subscriber;
    use iceoryx2::prelude::*;

    pub type Pub = Publisher<ipc::Service, [u8; 64], ()>;
    pub type Sub = Subscriber<ipc::Service, [u8; 64], ()>;

    /// Node + publisher on `tx` + subscriber on `rx`. The creator creates both services.
    pub fn ports(
        prefix: &str,
        tx: &str,
        rx: &str,
        create: bool,
    ) -> Result<(Node<ipc::Service>, Pub, Sub), String> {
        set_log_level(LogLevel::Error);
        let node = NodeBuilder::new()
            .create::<ipc::Service>()
            .map_err(|e| format!("iceoryx2 node: {e:?}"))?;
        let open = |suffix: &str| {
            let name: ServiceName = format!("{prefix}/{suffix}")
                .as_str()
                .try_into()
                .map_err(|e| format!("iceoryx2 service name: {e:?}"))?;
            let b = node
                .service_builder(&name)
                .publish_subscribe::<[u8; 64]>()
                .max_publishers(1)
                .max_subscribers(1)
                .history_size(0)
                .subscriber_max_buffer_size(1)
                .enable_safe_overflow(true);
            if create {
                b.create().map_err(|e| format!("iceoryx2 create: {e:?}"))
            } else {
                b.open().map_err(|e| format!("iceoryx2 open: {e:?}"))
            }
        };
        let (stx, srx) = if create {
            // The creator makes a2b then b2a; `tx`/`rx` say which one it sends on.
            let a = open(tx)?;
            let b = open(rx)?;
            (a, b)
        } else {
            let b = open(rx)?;
            let a = open(tx)?;
            (a, b)
        };
        let publisher = stx
            .publisher_builder()
            .create()
            .map_err(|e| format!("iceoryx2 publisher: {e:?}"))?;
        let subscriber = srx
            .subscriber_builder()
            .create()
            .map_err(|e| format!("iceoryx2 subscriber: {e:?}"))?;
        Ok((node, publisher, subscriber))
    }

    pub fn send(p: &Pub, payload: [u8; 64]) {
        let s = p.loan_uninit().expect("iceoryx2 loan");
        s.write_payload(payload).send().expect("iceoryx2 send");
    }

    pub fn recv_spin(s: &Sub, out: &mut [u8; 64]) {
        loop {
            if let Some(sample) = s.receive().expect("iceoryx2 receive") {
                *out = *sample;
                return;
            }
            std::hint::spin_loop();
        }
    }
}

pub fn iceoryx2(cfg: &Config) -> Result<f64, String> {
    let prefix = format!("mmf-bench/{}", unique_name("ice"));
    let (_node, publisher, subscriber) = ice::ports(&prefix, "a2b", "b2a", true)?;
    let mut buf = PAYLOAD;
    Ok(drive(cfg, Class::SpinShm, "iceoryx2", vec![prefix], |i| {
        buf[..8].copy_from_slice(&(i as u64).to_ne_bytes());
        ice::send(&publisher, buf);
        ice::recv_spin(&subscriber, &mut buf);
    }))
}

pub fn child_iceoryx2(args: &[String]) {
    let (total, _) = child_common(args);
    let (_node, publisher, subscriber) = ice::ports(&args[0], "b2a", "a2b", false).unwrap();
    let mut buf = [0u8; 64];
    say_ready();
    for _ in 0..total {
        ice::recv_spin(&subscriber, &mut buf);
        ice::send(&publisher, buf);
    }
}

// ---- mmap-sync ----------------------------------------------------------------------------------

mod msync {
    use mmap_sync::synchronizer::Synchronizer;
    use std::time::Duration;

    pub const GRACE: Duration = Duration::from_secs(1);

    pub fn sync(prefix: &str, dir: &str) -> Synchronizer {
        Synchronizer::new(std::ffi::OsStr::new(&format!("/dev/shm/{prefix}_{dir}")))
    }

    pub fn remove(prefix: &str) {
        for dir in ["a2b", "b2a"] {
            for f in ["state", "data_0", "data_1"] {
                let _ = std::fs::remove_file(format!("/dev/shm/{prefix}_{dir}_{f}"));
            }
        }
    }

    /// Spins on `version()` until it differs from `seen`, then copies the value out.
    pub fn recv_spin(s: &mut Synchronizer, seen: &mut u64, out: &mut [u8; 64]) {
        loop {
            let v = s.version().expect("mmap-sync version");
            let raw = u64::from(v);
            if raw != *seen {
                *seen = raw;
                break;
            }
            std::hint::spin_loop();
        }
        // SAFETY: the guard is dropped at the end of this statement, far within GRACE.
        let r = unsafe { s.read::<[u8; 64]>(false) }.expect("mmap-sync read");
        *out = *r;
    }

    pub fn version(s: &mut Synchronizer) -> u64 {
        let v = s.version().expect("mmap-sync version");
        // SAFETY: InstanceVersion is a newtype over u64 with no invalid values.
        unsafe { std::mem::transmute(v) }
    }
}

pub fn mmap_sync(cfg: &Config) -> Result<f64, String> {
    let prefix = unique_name("msync");
    let mut tx = msync::sync(&prefix, "a2b");
    tx.write(&PAYLOAD, msync::GRACE)
        .map_err(|e| format!("mmap-sync write: {e}"))?;
    let mut rx = msync::sync(&prefix, "b2a");
    let mut buf = PAYLOAD;
    let mut seen = 0u64;
    let mut first = true;
    let r = drive(
        cfg,
        Class::SpinShm,
        "mmap-sync",
        vec![prefix.clone()],
        |i| {
            if first {
                // The child wrote b2a's first value before saying ready.
                seen = msync::version(&mut rx);
                first = false;
            }
            buf[..8].copy_from_slice(&(i as u64).to_ne_bytes());
            tx.write(&buf, msync::GRACE).expect("mmap-sync write");
            msync::recv_spin(&mut rx, &mut seen, &mut buf);
        },
    );
    msync::remove(&prefix);
    Ok(r)
}

pub fn child_mmap_sync(args: &[String]) {
    let (total, _) = child_common(args);
    let mut rx = msync::sync(&args[0], "a2b");
    let mut tx = msync::sync(&args[0], "b2a");
    tx.write(&[0u8; 64], msync::GRACE).expect("mmap-sync write");
    let mut seen = msync::version(&mut rx);
    let mut buf = [0u8; 64];
    say_ready();
    for _ in 0..total {
        msync::recv_spin(&mut rx, &mut seen, &mut buf);
        tx.write(&buf, msync::GRACE).expect("mmap-sync write");
    }
}

// ---- shared_memory + raw_sync -------------------------------------------------------------------

mod shm {
    use raw_sync::Timeout;
    use raw_sync::events::{BusyEvent, EventImpl, EventInit, EventState};
    use shared_memory::{Shmem, ShmemConf};

    /// Layout: event a2b at 0, event b2a at 64, payload a2b at 128, payload b2a at 192.
    pub struct Chan {
        pub shm: Shmem,
        pub a2b: Box<dyn EventImpl>,
        pub b2a: Box<dyn EventImpl>,
    }

    pub fn create(name: &str) -> Result<Chan, String> {
        let shm = ShmemConf::new()
            .size(4096)
            .os_id(format!("/{name}"))
            .create()
            .map_err(|e| format!("shared_memory create: {e}"))?;
        let p = shm.as_ptr();
        // SAFETY: 4 KiB mapping; events at offsets 0 and 64 take 2 bytes each.
        let (a2b, _) = unsafe { BusyEvent::new(p, true) }.map_err(|e| e.to_string())?;
        // SAFETY: as above.
        let (b2a, _) = unsafe { BusyEvent::new(p.add(64), true) }.map_err(|e| e.to_string())?;
        Ok(Chan { shm, a2b, b2a })
    }

    pub fn open(name: &str) -> Chan {
        let shm = ShmemConf::new()
            .os_id(format!("/{name}"))
            .open()
            .expect("shared_memory open");
        let p = shm.as_ptr();
        // SAFETY: initialised by the creator before the child was started.
        let (a2b, _) = unsafe { BusyEvent::from_existing(p) }.expect("event");
        // SAFETY: as above.
        let (b2a, _) = unsafe { BusyEvent::from_existing(p.add(64)) }.expect("event");
        Chan { shm, a2b, b2a }
    }

    pub fn signal(e: &dyn EventImpl) {
        e.set(EventState::Signaled).expect("raw_sync set");
    }

    pub fn wait(e: &dyn EventImpl) {
        e.wait(Timeout::Infinite).expect("raw_sync wait");
    }
}

pub fn shared_memory(cfg: &Config) -> Result<f64, String> {
    let name = unique_name("shmem");
    let c = shm::create(&name)?;
    let p = c.shm.as_ptr();
    let mut buf = PAYLOAD;
    Ok(drive(cfg, Class::SpinShm, "shmem", vec![name], |i| {
        buf[..8].copy_from_slice(&(i as u64).to_ne_bytes());
        // SAFETY: offsets 128..256 lie in the 4 KiB segment.
        unsafe { crate::raw::copy64(p.add(128), buf.as_ptr()) };
        shm::signal(&*c.a2b);
        shm::wait(&*c.b2a);
        // SAFETY: as above.
        unsafe { crate::raw::copy64(buf.as_mut_ptr(), p.add(192)) };
    }))
}

pub fn child_shared_memory(args: &[String]) {
    let (total, _) = child_common(args);
    let c = shm::open(&args[0]);
    let p = c.shm.as_ptr();
    let mut buf = [0u8; 64];
    say_ready();
    for _ in 0..total {
        shm::wait(&*c.a2b);
        // SAFETY: offsets 128..256 lie in the 4 KiB segment.
        unsafe {
            crate::raw::copy64(buf.as_mut_ptr(), p.add(128));
            crate::raw::copy64(p.add(192), buf.as_ptr());
        }
        shm::signal(&*c.b2a);
    }
}
