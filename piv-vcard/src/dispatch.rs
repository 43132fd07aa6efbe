//! The trussed backends piv-authenticator needs, behind one dispatch: the
//! software RSA backend (trussed's core has no RSA), trussed-auth (PIN and
//! PUK counters) and trussed-staging (chunked files, wrapped keys, HPKE).
//! Core requests try the custom backends in `BACKENDS` order, then the core.

use trussed::backend::{Backend as _, BackendId};
use trussed::platform::Platform;
use trussed::serde_extensions::{ExtensionDispatch, ExtensionId, ExtensionImpl};
use trussed::service::ServiceResources;
use trussed::types::Context;
use trussed_auth::AuthExtension;
use trussed_auth_backend::{AuthBackend, AuthContext, FilesystemLayout};
use trussed_chunked::ChunkedExtension;
use trussed_core::api::{reply, request, Reply, Request};
use trussed_core::types::Location;
use trussed_core::Error;
use trussed_hpke::HpkeExtension;
use trussed_rsa_alloc::SoftwareRsa;
use trussed_staging::{StagingBackend, StagingContext};
use trussed_wrap_key_to_file::WrapKeyToFileExtension;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Rsa,
    Auth,
    Staging,
}

/// The backends the PIV client may use, in the order they are asked.
pub const BACKENDS: &[BackendId<Backend>] = &[
    BackendId::Custom(Backend::Rsa),
    BackendId::Custom(Backend::Auth),
    BackendId::Custom(Backend::Staging),
    BackendId::Core,
];

/// Extension ids on the wire between client and service; any distinct
/// numbers do, both sides are built from this one table.
#[derive(Debug, Clone, Copy)]
pub enum Extension {
    Auth = 0,
    Chunked = 1,
    WrapKeyToFile = 2,
    Hpke = 3,
}

impl From<Extension> for u8 {
    fn from(id: Extension) -> u8 {
        id as u8
    }
}

impl TryFrom<u8> for Extension {
    type Error = Error;
    fn try_from(id: u8) -> Result<Self, Error> {
        [Extension::Auth, Extension::Chunked, Extension::WrapKeyToFile, Extension::Hpke]
            .into_iter()
            .find(|e| *e as u8 == id)
            .ok_or(Error::FunctionNotSupported)
    }
}

pub struct Dispatch {
    auth: AuthBackend,
    staging: StagingBackend,
}

impl Default for Dispatch {
    fn default() -> Self {
        Self {
            // PINs live in internal storage, as on the Nitrokey 3.
            auth: AuthBackend::new(Location::Internal, FilesystemLayout::V0),
            staging: StagingBackend::new(),
        }
    }
}

#[derive(Default)]
pub struct DispatchContext {
    auth: AuthContext,
    staging: StagingContext,
}

impl ExtensionDispatch for Dispatch {
    type BackendId = Backend;
    type Context = DispatchContext;
    type ExtensionId = Extension;

    fn core_request<P: Platform>(
        &mut self,
        backend: &Backend,
        ctx: &mut Context<DispatchContext>,
        request: &Request,
        resources: &mut ServiceResources<P>,
    ) -> Result<Reply, Error> {
        match backend {
            Backend::Rsa => SoftwareRsa.request(&mut ctx.core, &mut (), request, resources),
            Backend::Auth => self.auth.request(&mut ctx.core, &mut ctx.backends.auth, request, resources),
            Backend::Staging => self.staging.request(&mut ctx.core, &mut ctx.backends.staging, request, resources),
        }
    }

    fn extension_request<P: Platform>(
        &mut self,
        backend: &Backend,
        extension: &Extension,
        ctx: &mut Context<DispatchContext>,
        request: &request::SerdeExtension,
        resources: &mut ServiceResources<P>,
    ) -> Result<reply::SerdeExtension, Error> {
        let (core, auth, staging) = (&mut ctx.core, &mut ctx.backends.auth, &mut ctx.backends.staging);
        match (backend, extension) {
            (Backend::Auth, Extension::Auth) => ExtensionImpl::<AuthExtension>::extension_request_serialized(
                &mut self.auth,
                core,
                auth,
                request,
                resources,
            ),
            (Backend::Staging, Extension::Chunked) => ExtensionImpl::<ChunkedExtension>::extension_request_serialized(
                &mut self.staging,
                core,
                staging,
                request,
                resources,
            ),
            (Backend::Staging, Extension::WrapKeyToFile) => {
                ExtensionImpl::<WrapKeyToFileExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    staging,
                    request,
                    resources,
                )
            }
            (Backend::Staging, Extension::Hpke) => ExtensionImpl::<HpkeExtension>::extension_request_serialized(
                &mut self.staging,
                core,
                staging,
                request,
                resources,
            ),
            _ => Err(Error::RequestNotAvailable),
        }
    }
}

/// Which id each extension the PIV client uses travels under.
macro_rules! extension_ids {
    ($($extension:ty => $id:ident),*) => {$(
        impl ExtensionId<$extension> for Dispatch {
            type Id = Extension;
            const ID: Extension = Extension::$id;
        }
    )*};
}

extension_ids!(
    AuthExtension => Auth,
    ChunkedExtension => Chunked,
    WrapKeyToFileExtension => WrapKeyToFile,
    HpkeExtension => Hpke
);
