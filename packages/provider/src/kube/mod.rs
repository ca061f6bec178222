//! The Kubernetes backend: runs a lease's manifest group on a cluster, as Akash's provider does
//! (`cluster/kube`), through the API server (kube + k8s-openapi).
//!
//! [`builder`] turns a lease and its group into typed objects (pure, tested object by object);
//! [`KubeBackend`] applies them with server-side apply and implements [`crate::backend::Backend`].
//!
//! How it differs from Akash: no CRDs (Akash stores the manifest in a `Manifest` custom resource;
//! here the namespace's annotations hold the group's hash, which is all the agent needs to adopt a
//! lease), server-side apply instead of get-then-create-or-update, no leased IPs (MetalLB) and no
//! hostname operator (the Ingress is part of the deploy). Pods drop every Linux capability (the
//! provider may add some back in [`KubeSettings::added_capabilities`]) and get no service account
//! token (Akash's `permissions` are not granted).
//!
//! The agent's own identity needs, cluster-wide: namespaces (get, list, patch, delete); in lease
//! namespaces: deployments and statefulsets (apps), services, secrets, networkpolicies and
//! ingresses (networking.k8s.io) (list, patch, delete); pods (list), pods/log (get), events
//! (list, watch).

pub mod builder;
mod client;

pub use builder::{
    build, lease_from_namespace, lease_namespace, BuildError, KubeSettings, LeaseObjects,
};
pub use client::KubeBackend;
