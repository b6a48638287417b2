//! workload (being written).
