//! Port traits, one per capability. The adapters implement them over AWS
//! and the providers; unit tests implement them in memory. A use case asks
//! only for the ports it uses.

mod accounts;
mod budget;
mod deletion;
mod exports;
mod history;
mod jobs;
mod ledger;
mod limits;
mod photos;
mod pipeline;
mod provider;
mod purchases;
mod queue;
mod sessions;
mod trash;
mod uploads;

pub use accounts::AccountStore;
pub use budget::ProviderBudget;
pub use deletion::DeletionStore;
pub use exports::{CreateExportOutcome, ExportStore, ObjectUploads};
pub use history::PurchaseHistory;
pub use jobs::JobStore;
pub use ledger::LedgerStore;
pub use limits::{ActionLimiter, SignupLimiter};
pub use photos::PhotoStore;
pub use pipeline::PipelineStore;
pub use provider::ImageProvider;
pub use purchases::PurchaseStore;
pub use queue::Queue;
pub use sessions::SessionStore;
pub use trash::TrashStore;
pub use uploads::UploadStore;
