//! Each provider model's request shape (its image field differs per model)
//! and price, in one place. Which model a quality uses is
//! `provider::ModelChoice`.

use serde_json::{Value, json};

/// The models whose request shape is known here (what the model settings
/// may name; `contracts/kie.md` lists them).
pub const KNOWN_MODELS: &[&str] = &["google/nano-banana-edit", "nano-banana-pro", "seedream/4.5-edit"];

/// A provider model and how to ask it for an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderModel {
    /// KIE's model name.
    pub name: String,
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
        let seedream = ProviderModel { name: "seedream/4.5-edit".into() };
        let body = seedream.create_task_body("p", "https://img", "https://cb", "2K");
        assert_eq!(
            (body["model"].as_str(), body["input"]["image_urls"][0].as_str(), body["input"]["quality"].as_str()),
            (Some("seedream/4.5-edit"), Some("https://img"), Some("high"))
        );
    }

    #[test]
    fn every_known_model_has_its_own_price() {
        for name in KNOWN_MODELS {
            assert!(ProviderModel { name: name.to_string() }.price_micro_usd("2K") < 150_000, "{name} is priced as unknown");
        }
    }
}
