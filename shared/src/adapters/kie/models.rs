//! Which provider model a quality uses, and each model's request shape (its
//! image field differs per model), in one place.

use serde_json::{Value, json};

use crate::config::{self, ConfigError};

/// A provider model and how to ask it for an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModel {
    /// KIE's model name.
    pub name: String,
}

/// The models for the two qualities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// `standard` (`KIE_MODEL_STANDARD`, default `google/nano-banana-edit`).
    pub standard: ProviderModel,
    /// `high` (`KIE_MODEL_HIGH`, default `nano-banana-pro` at 2K).
    pub high: ProviderModel,
}

impl Default for ModelChoice {
    /// `google/nano-banana-edit` for `standard`, `nano-banana-pro` for `high`.
    fn default() -> Self {
        ModelChoice { standard: ProviderModel { name: "google/nano-banana-edit".into() }, high: ProviderModel { name: "nano-banana-pro".into() } }
    }
}

impl ModelChoice {
    /// Reads the models from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let pick = |name: &'static str, default: &str| ProviderModel { name: config::optional(name).unwrap_or_else(|| default.to_string()) };
        Ok(ModelChoice { standard: pick("KIE_MODEL_STANDARD", "google/nano-banana-edit"), high: pick("KIE_MODEL_HIGH", "nano-banana-pro") })
    }

    /// The model for a quality id.
    pub fn for_quality(&self, quality: &str) -> &ProviderModel {
        if quality == "high" { &self.high } else { &self.standard }
    }
}

impl ProviderModel {
    /// What one task costs, in millionths of a US dollar (KIE's prices as
    /// `contracts/kie.md` lists them; a model not listed is counted at a
    /// high $0.15, so the spend ceiling errs on the safe side).
    pub fn price_micro_usd(&self, resolution: &str) -> i64 {
        match (self.name.as_str(), resolution) {
            ("google/nano-banana-edit", _) => 20_000,
            ("nano-banana-pro", "4K") => 120_000,
            ("nano-banana-pro", _) => 90_000,
            ("seedream/4.5-edit", _) => 32_500,
            _ => 150_000,
        }
    }

    /// The `createTask` body for this model: the prompt, the photo's link,
    /// and where to call back. `resolution` is the quality's (`1K`, `2K`).
    pub fn create_task_body(&self, prompt: &str, image_url: &str, callback_url: &str, resolution: &str) -> Value {
        let input = match self.name.as_str() {
            "nano-banana-pro" => json!({
                "prompt": prompt,
                "image_input": [image_url],
                "aspect_ratio": "3:4",
                "resolution": resolution,
                "output_format": "png",
            }),
            "seedream/4.5-edit" => json!({
                "prompt": prompt,
                "image_urls": [image_url],
                "aspect_ratio": "3:4",
                "quality": if resolution == "1K" { "basic" } else { "high" },
            }),
            // google/nano-banana-edit and models of the same shape.
            _ => json!({
                "prompt": prompt,
                "image_urls": [image_url],
                "aspect_ratio": "3:4",
                "output_format": "png",
            }),
        };
        json!({"model": self.name, "callBackUrl": callback_url, "input": input})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_gets_its_own_image_field() {
        let edit = ProviderModel { name: "google/nano-banana-edit".into() };
        let body = edit.create_task_body("p", "https://img", "https://cb", "1K");
        assert_eq!(body["input"]["image_urls"][0], "https://img");
        assert_eq!(body["callBackUrl"], "https://cb");
        let pro = ProviderModel { name: "nano-banana-pro".into() };
        let body = pro.create_task_body("p", "https://img", "https://cb", "2K");
        assert_eq!(body["input"]["image_input"][0], "https://img");
        assert_eq!(body["input"]["resolution"], "2K");
        assert!(body["input"].get("image_urls").is_none());
    }
}
