//! An [OpenFeature](https://openfeature.dev) provider backed by a ConfigCat client (cargo
//! feature `openfeature`).
