//! The local stack: the AWS emulator with the resources of `template.yaml`,
//! and one HTTP server routing each template route to the handler its Lambda
//! binary runs.

pub mod api;
pub mod emulator;
pub mod registry;
pub mod resources;
pub mod router;
pub mod sqs_trigger;
pub mod stack_env;
pub mod template;
