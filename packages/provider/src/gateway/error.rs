//! The lease API's errors and how each becomes an HTTP response: a status code and a JSON body
//! `{"code": "...", "message": "..."}` that says what was wrong.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::backend::BackendError;

use super::check::ManifestMismatch;
use super::source::SourceError;
use super::store::StoreError;

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable: `invalid_token`, `manifest_version_mismatch`, ...
    pub code: String,
    /// For people.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("missing bearer token: send `Authorization: Bearer <JWT>`")]
    MissingToken,
    /// The token is not valid (401): malformed, wrong algorithm, bad signature, expired, ...
    #[error("invalid token: {0}")]
    Unauthenticated(AuthError),
    /// The token is valid but does not allow this (403): wrong scope, another owner's lease.
    #[error("forbidden: {0}")]
    Forbidden(AuthError),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    #[error(
        "manifest version mismatch: the manifest hashes to {got} but deployment {deployment} \
         committed to {expected} on chain"
    )]
    VersionMismatch {
        deployment: String,
        expected: String,
        got: String,
    },
    #[error("the manifest does not match the deployment's groups: {0}")]
    ManifestMismatch(#[from] ManifestMismatch),
    #[error(transparent)]
    Chain(#[from] SourceError),
    #[error("the chain did not answer within {0:?}")]
    ChainTimeout(Duration),
    #[error("lease {lease}: {source}")]
    Backend { lease: String, source: BackendError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl GatewayError {
    /// Maps an auth failure to 401 or 403 as [`AuthError::is_forbidden`] says.
    pub fn auth(e: AuthError) -> GatewayError {
        if e.is_forbidden() {
            GatewayError::Forbidden(e)
        } else {
            GatewayError::Unauthenticated(e)
        }
    }

    pub fn backend(lease: &crate::backend::LeaseId, source: BackendError) -> GatewayError {
        GatewayError::Backend {
            lease: lease.to_string(),
            source,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::MissingToken | GatewayError::Unauthenticated(_) => {
                StatusCode::UNAUTHORIZED
            }
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::BadRequest(_)
            | GatewayError::InvalidManifest(_)
            | GatewayError::VersionMismatch { .. }
            | GatewayError::ManifestMismatch(_) => StatusCode::BAD_REQUEST,
            GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Chain(_) => StatusCode::BAD_GATEWAY,
            GatewayError::ChainTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Backend { source, .. } => match source {
                BackendError::LeaseNotFound { .. } | BackendError::ServiceNotFound { .. } => {
                    StatusCode::NOT_FOUND
                }
                // The manifest passed every check but the cluster cannot run it (an image
                // that does not exist, say): the tenant has to change it.
                BackendError::InvalidManifest { .. } | BackendError::ImageUnavailable { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                BackendError::Conflict { .. } => StatusCode::CONFLICT,
                BackendError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                BackendError::Engine { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            },
            GatewayError::Store(_) | GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::MissingToken => "missing_token",
            GatewayError::Unauthenticated(_) => "invalid_token",
            GatewayError::Forbidden(AuthError::NotLeaseOwner { .. }) => "not_lease_owner",
            GatewayError::Forbidden(_) => "insufficient_scope",
            GatewayError::BadRequest(_) => "bad_request",
            GatewayError::NotFound(_) => "not_found",
            GatewayError::PayloadTooLarge { .. } => "payload_too_large",
            GatewayError::InvalidManifest(_) => "invalid_manifest",
            GatewayError::VersionMismatch { .. } => "manifest_version_mismatch",
            GatewayError::ManifestMismatch(_) => "manifest_exceeds_lease",
            GatewayError::Chain(_) | GatewayError::ChainTimeout(_) => "chain_unavailable",
            GatewayError::Backend { source, .. } => match source {
                BackendError::LeaseNotFound { .. } => "not_deployed",
                BackendError::ServiceNotFound { .. } => "unknown_service",
                BackendError::InvalidManifest { .. } => "deploy_rejected",
                BackendError::ImageUnavailable { .. } => "image_unavailable",
                BackendError::Conflict { .. } => "conflict",
                BackendError::Unreachable { .. } => "cluster_unavailable",
                BackendError::Engine { .. } => "cluster_error",
            },
            GatewayError::Store(_) | GatewayError::Internal(_) => "internal",
        }
    }

    /// What the client is told. Server-side failures (the engine, the store, the chain node)
    /// may name hosts and paths of the provider's: those stay in its logs.
    fn public_message(&self) -> String {
        match self {
            GatewayError::Backend {
                lease,
                source: BackendError::Engine { .. },
            } => format!("lease {lease}: the cluster failed; the provider's logs say why"),
            GatewayError::Backend {
                lease,
                source: BackendError::Unreachable { backend, .. },
            } => format!("lease {lease}: the provider's {backend} cluster is unavailable"),
            GatewayError::Chain(_) => "the provider could not query the chain".to_string(),
            GatewayError::Store(_) | GatewayError::Internal(_) => {
                "internal error; the provider's logs say why".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "lease API request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "lease API request refused");
        }
        let body = ErrorBody {
            code: self.code().to_string(),
            message: self.public_message(),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3.
            let value = if matches!(self, GatewayError::MissingToken) {
                "Bearer"
            } else {
                "Bearer error=\"invalid_token\""
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        response
    }
}
