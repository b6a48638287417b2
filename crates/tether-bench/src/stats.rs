//! Percentiles of timing samples, computed here rather than by a benchmark framework so
//! the harness can time things criterion cannot (a whole CLI process, a daemon's hooks,
//! a login that starts succeeding) and report exactly what it measured.

use std::time::Duration;

/// A summary of samples in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// The nearest-rank percentile `p` (0..=100) of sorted samples; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Summarises durations as milliseconds; `None` when there are none.
pub fn summarise(samples: &[Duration]) -> Option<Summary> {
    summarise_ms(&samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>())
}

pub fn summarise_ms(samples: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    Some(Summary {
        n: v.len(),
        p50: percentile(&v, 50.0)?,
        p95: percentile(&v, 95.0)?,
        min: v[0],
        max: v[v.len() - 1],
        mean: v.iter().sum::<f64>() / v.len() as f64,
    })
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        let s = summarise_ms(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.p50, s.min, s.max, s.mean), (3, 2.0, 1.0, 3.0, 2.0));
    }
}
