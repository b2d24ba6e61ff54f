//! The style catalog (`GET /v1/styles`) and the prompt built from a chosen
//! style. Defined once here; the routes and the generation worker use it.

use serde::{Deserialize, Serialize};

/// One choosable option.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct StyleOption {
    /// The id the app sends back.
    pub id: &'static str,
    /// What the app shows.
    pub label: &'static str,
    /// The words this option adds to the prompt (never sent to the app).
    #[serde(skip)]
    pub prompt: &'static str,
}

/// A quality level and its price.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct QualityOption {
    /// `standard` or `high`.
    pub id: &'static str,
    /// What the app shows.
    pub label: &'static str,
    /// Price in credits.
    pub credits: i64,
    /// The provider's output resolution for this quality (never sent to the app).
    #[serde(skip)]
    pub resolution: &'static str,
}

const fn opt(id: &'static str, label: &'static str, prompt: &'static str) -> StyleOption {
    StyleOption { id, label, prompt }
}

/// Attire options.
pub const ATTIRE: &[StyleOption] = &[
    opt("business_suit", "Business suit", "wearing a tailored dark business suit with a crisp shirt"),
    opt("business_casual", "Business casual", "wearing a smart business-casual blazer over an open-collar shirt"),
    opt("smart_sweater", "Smart sweater", "wearing a fine-knit crew-neck sweater"),
    opt("medical_coat", "Medical coat", "wearing a clean white medical coat"),
    opt("creative_casual", "Creative casual", "wearing a neat casual shirt in a muted colour"),
];

/// Background options.
pub const BACKGROUND: &[StyleOption] = &[
    opt("office", "Modern office", "in front of a softly blurred modern office"),
    opt("studio_grey", "Studio grey", "in front of a seamless neutral grey studio backdrop"),
    opt("studio_white", "Studio white", "in front of a clean white studio backdrop"),
    opt("city", "City skyline", "in front of a softly blurred city skyline"),
    opt("library", "Library", "in front of softly blurred bookshelves"),
];

/// Lighting options.
pub const LIGHTING: &[StyleOption] = &[
    opt("soft_studio", "Soft studio", "lit by soft, even studio light"),
    opt("natural_window", "Natural window light", "lit by natural daylight from a window"),
    opt("dramatic", "Dramatic", "lit by directional light with gentle contrast"),
];

/// Quality options: exactly the contract's two.
pub const QUALITY: &[QualityOption] = &[
    QualityOption { id: "standard", label: "Standard", credits: 1, resolution: "1K" },
    QualityOption { id: "high", label: "High resolution", credits: 2, resolution: "2K" },
];

/// The defaults the app preselects.
pub const DEFAULT_STYLE: (&str, &str, &str, &str) = ("business_suit", "office", "soft_studio", "standard");

/// A style as the app sends it: every field required, ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleChoice {
    /// An attire id.
    pub attire: String,
    /// A background id.
    pub background: String,
    /// A lighting id.
    pub lighting: String,
    /// A quality id.
    pub quality: String,
}

/// A style whose every id exists in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub attire: &'static StyleOption,
    pub background: &'static StyleOption,
    pub lighting: &'static StyleOption,
    /// The quality and price.
    pub quality: &'static QualityOption,
}

/// A style id that is not in the catalog.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {field} `{id}`: use an id from GET /v1/styles")]
pub struct UnknownStyle {
    /// Which field.
    pub field: &'static str,
    /// The id that was sent.
    pub id: String,
}

fn find<'a, T>(all: &'a [T], id: &str, field: &'static str, id_of: impl Fn(&T) -> &str) -> Result<&'a T, UnknownStyle> {
    all.iter().find(|o| id_of(o) == id).ok_or_else(|| UnknownStyle { field, id: id.to_string() })
}

impl StyleChoice {
    /// Resolves every id against the catalog.
    pub fn resolve(&self) -> Result<Style, UnknownStyle> {
        Ok(Style {
            attire: find(ATTIRE, &self.attire, "attire", |o| o.id)?,
            background: find(BACKGROUND, &self.background, "background", |o| o.id)?,
            lighting: find(LIGHTING, &self.lighting, "lighting", |o| o.id)?,
            quality: find(QUALITY, &self.quality, "quality", |o| o.id)?,
        })
    }
}

impl Style {
    /// The price of a job in this style.
    pub fn credits(&self) -> i64 {
        self.quality.credits
    }

    /// The prompt sent to the image provider for this style.
    pub fn prompt(&self) -> String {
        format!(
            "Professional corporate headshot of the person in the reference photo, {}, {}, {}. \
             Keep the person's face, identity, skin tone, hair and expression exactly as in the photo; \
             head and shoulders, facing the camera, sharp focus on the eyes, photorealistic, \
             natural skin texture, high-end professional photography.",
            self.attire.prompt, self.background.prompt, self.lighting.prompt
        )
    }
}

/// The catalog as `GET /v1/styles` returns it.
pub fn catalog_json() -> serde_json::Value {
    let (attire, background, lighting, quality) = DEFAULT_STYLE;
    serde_json::json!({
        "attire": ATTIRE,
        "background": BACKGROUND,
        "lighting": LIGHTING,
        "quality": QUALITY,
        "defaults": {"attire": attire, "background": background, "lighting": lighting, "quality": quality},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn choice(a: &str, b: &str, l: &str, q: &str) -> StyleChoice {
        StyleChoice { attire: a.into(), background: b.into(), lighting: l.into(), quality: q.into() }
    }

    #[test]
    fn catalog_meets_the_contract() {
        assert!(ATTIRE.len() >= 4 && BACKGROUND.len() >= 4 && LIGHTING.len() >= 3);
        let q: Vec<_> = QUALITY.iter().map(|q| (q.id, q.credits)).collect();
        assert_eq!(q, vec![("standard", 1), ("high", 2)]);
        let json = catalog_json();
        assert_eq!(json["quality"][1]["credits"], 2);
        assert!(json["attire"][0].get("prompt").is_none(), "prompts stay server-side");
        let (a, b, l, qd) = DEFAULT_STYLE;
        assert!(choice(a, b, l, qd).resolve().is_ok(), "defaults must be valid ids");
    }

    #[test]
    fn ids_are_unique_per_field() {
        for list in [ATTIRE, BACKGROUND, LIGHTING] {
            let ids: HashSet<_> = list.iter().map(|o| o.id).collect();
            assert_eq!(ids.len(), list.len());
        }
    }

    #[test]
    fn every_combination_builds_a_distinct_prompt() {
        let mut prompts = HashSet::new();
        for a in ATTIRE {
            for b in BACKGROUND {
                for l in LIGHTING {
                    let style = choice(a.id, b.id, l.id, "standard").resolve().unwrap();
                    let p = style.prompt();
                    assert!(p.contains(a.prompt) && p.contains(b.prompt) && p.contains(l.prompt));
                    assert!(prompts.insert(p));
                }
            }
        }
    }

    #[test]
    fn unknown_ids_name_the_field() {
        let err = choice("business_suit", "moon", "soft_studio", "standard").resolve().unwrap_err();
        assert_eq!(err.field, "background");
        assert_eq!(choice("business_suit", "office", "soft_studio", "ultra").resolve().unwrap_err().field, "quality");
    }

    #[test]
    fn price_follows_quality() {
        assert_eq!(choice("business_suit", "office", "dramatic", "high").resolve().unwrap().credits(), 2);
    }
}
