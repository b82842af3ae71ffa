//! A create+get load and latency figures, shared by benches through
//! `#[path = "common/load.rs"] mod load;`.

use clavis::keys::{Algorithm, Attributes};
use clavis::service::{CreateKey, KeyService, Principal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Creates and gets keys one after the other until `stop`; their latencies in ms.
pub async fn load(svc: Arc<KeyService>, stop: Arc<AtomicBool>) -> Vec<f64> {
    let who = Principal::system("bench");
    let mut lat = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let meta = svc
            .create_key(
                &who,
                CreateKey {
                    algorithm: Algorithm::Aes,
                    length: 256,
                    name: None,
                    activate: true,
                    attributes: Attributes::default(),
                },
            )
            .await
            .expect("create");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        svc.get_material(&who, &meta.id).await.expect("get");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat
}

pub fn print_lat(label: &str, mut lat: Vec<f64>) {
    lat.sort_by(|x, y| x.total_cmp(y));
    println!(
        "  {label}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );
}
