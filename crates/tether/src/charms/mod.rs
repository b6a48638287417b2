//! charms (being written).
