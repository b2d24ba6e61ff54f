//! Lambda entry point: builds the function once per cold start, then serves it.

fn main() -> Result<(), shared::error::BoxError> {
    shared::entry::http::<get_export::GetExport>()
}
