//! A definition as owned data, for an app to draw the form from (and for Kotlin/Swift through
//! UniFFI: `assessment_definitions()`).

use serde::{Deserialize, Serialize};

use super::{Definition, Item, ItemKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentDefinitionView {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub source: String,
    pub items: Vec<AssessmentItemView>,
    /// Asked only when an answer is subjective (MUST's overall risk).
    pub judgement: Option<AssessmentItemView>,
    pub bands: Vec<AssessmentBandView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentItemView {
    pub id: String,
    pub label: String,
    /// `"one"` (choose one), `"many"` (tick all that apply), `"points"` (enter points, or an option).
    pub kind: String,
    pub min_points: Option<u32>,
    pub max_points: Option<u32>,
    pub options: Vec<AssessmentOptionView>,
    /// What a measured answer gives, if the item can be measured (`height_cm`, `weight_kg`, …).
    pub measurements: Vec<AssessmentMeasurementView>,
    pub cap: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentOptionView {
    pub id: String,
    pub label: String,
    /// `None`: a subjective answer (no points).
    pub points: Option<u32>,
    /// Must be ticked alone ("none").
    pub alone: bool,
    /// Options with the same non-zero group exclude each other.
    pub group: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentMeasurementView {
    pub id: String,
    pub label: String,
    pub unit: String,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AssessmentBandView {
    pub id: String,
    pub label: String,
    pub min_total: u32,
    pub action: String,
}

fn item(i: &Item) -> AssessmentItemView {
    let (kind, min, max) = match i.kind {
        ItemKind::One => ("one", None, None),
        ItemKind::Many => ("many", None, None),
        ItemKind::Points { min, max } => ("points", Some(min), Some(max)),
    };
    AssessmentItemView {
        id: i.id.into(),
        label: i.label.into(),
        kind: kind.into(),
        min_points: min,
        max_points: max,
        options: i
            .options
            .iter()
            .map(|o| AssessmentOptionView {
                id: o.id.into(),
                label: o.label.into(),
                points: o.points,
                alone: o.alone,
                group: o.group,
            })
            .collect(),
        measurements: i
            .derive
            .iter()
            .flat_map(|d| d.inputs.iter())
            .map(|m| AssessmentMeasurementView {
                id: m.id.into(),
                label: m.label.into(),
                unit: m.unit.into(),
                min: m.min,
                max: m.max,
            })
            .collect(),
        cap: i.cap,
    }
}

pub fn view(d: &Definition) -> AssessmentDefinitionView {
    AssessmentDefinitionView {
        id: d.id.into(),
        version: d.version,
        title: d.title.into(),
        source: d.source.into(),
        items: d.items.iter().map(item).collect(),
        judgement: d.judgement.as_ref().map(item),
        bands: d
            .bands
            .iter()
            .map(|b| AssessmentBandView {
                id: b.id.into(),
                label: b.label.into(),
                min_total: b.min_total,
                action: b.action.into(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_view_lists_every_item_and_band() {
        let v = super::view(&super::super::waterlow::WATERLOW_2005_V1);
        assert_eq!(v.items.len(), 13);
        assert_eq!(v.items[0].measurements.len(), 2);
        let neuro = v
            .items
            .iter()
            .find(|i| i.id == "neurological_deficit")
            .unwrap();
        assert_eq!(
            (neuro.kind.as_str(), neuro.min_points, neuro.max_points),
            ("points", Some(4), Some(6))
        );
        assert_eq!(
            v.bands.iter().map(|b| b.min_total).collect::<Vec<_>>(),
            [0, 10, 15, 20]
        );
    }
}
