//! NHS Data Model and Dictionary codes the record holds about a person (issue 15 item 4, layout
//! 7): the stated gender, the ethnic category and the GP practice's ODS code. They are stored as
//! the national codes themselves, so a national return (the CSDS extract, `crate::csds`) and a
//! FHIR export read them without a mapping table of their own. The code lists are those of UK
//! Core 2.0.0's code systems (`CodeSystem-NHSDataModelAndDictionary-PersonStatedGenderCode`,
//! `CodeSystem-UKCore-EthnicCategoryEngland`), which copy the Data Dictionary.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// PERSON STATED GENDER CODE: the gender the person states, as the Data Dictionary codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum StatedGender {
    #[serde(rename = "1")]
    Male,
    #[serde(rename = "2")]
    Female,
    /// Indeterminate (unable to be classified as either male or female).
    #[serde(rename = "9")]
    Indeterminate,
    /// Not known (not recorded): the person was asked and it was not recorded.
    #[serde(rename = "X")]
    NotKnown,
}

impl StatedGender {
    pub const ALL: [StatedGender; 4] = [
        StatedGender::Male,
        StatedGender::Female,
        StatedGender::Indeterminate,
        StatedGender::NotKnown,
    ];

    /// The Data Dictionary code ("1", "2", "9", "X").
    pub fn code(self) -> &'static str {
        match self {
            StatedGender::Male => "1",
            StatedGender::Female => "2",
            StatedGender::Indeterminate => "9",
            StatedGender::NotKnown => "X",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatedGender::Male => "Male",
            StatedGender::Female => "Female",
            StatedGender::Indeterminate => {
                "Indeterminate (unable to be classified as either male or female)"
            }
            StatedGender::NotKnown => "Not Known (not recorded)",
        }
    }
}

/// ETHNIC CATEGORY (England), as the person states it: the Data Dictionary's 2001-census codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum EthnicCategory {
    #[serde(rename = "A")]
    WhiteBritish,
    #[serde(rename = "B")]
    WhiteIrish,
    #[serde(rename = "C")]
    WhiteOther,
    #[serde(rename = "D")]
    MixedWhiteBlackCaribbean,
    #[serde(rename = "E")]
    MixedWhiteBlackAfrican,
    #[serde(rename = "F")]
    MixedWhiteAsian,
    #[serde(rename = "G")]
    MixedOther,
    #[serde(rename = "H")]
    AsianIndian,
    #[serde(rename = "J")]
    AsianPakistani,
    #[serde(rename = "K")]
    AsianBangladeshi,
    #[serde(rename = "L")]
    AsianOther,
    #[serde(rename = "M")]
    BlackCaribbean,
    #[serde(rename = "N")]
    BlackAfrican,
    #[serde(rename = "P")]
    BlackOther,
    #[serde(rename = "R")]
    Chinese,
    #[serde(rename = "S")]
    OtherEthnicGroup,
    /// The person was asked and chose not to say.
    #[serde(rename = "Z")]
    NotStated,
    /// Not known: the person was not asked, or could not say.
    #[serde(rename = "99")]
    NotKnown,
}

impl EthnicCategory {
    pub const ALL: [EthnicCategory; 18] = [
        EthnicCategory::WhiteBritish,
        EthnicCategory::WhiteIrish,
        EthnicCategory::WhiteOther,
        EthnicCategory::MixedWhiteBlackCaribbean,
        EthnicCategory::MixedWhiteBlackAfrican,
        EthnicCategory::MixedWhiteAsian,
        EthnicCategory::MixedOther,
        EthnicCategory::AsianIndian,
        EthnicCategory::AsianPakistani,
        EthnicCategory::AsianBangladeshi,
        EthnicCategory::AsianOther,
        EthnicCategory::BlackCaribbean,
        EthnicCategory::BlackAfrican,
        EthnicCategory::BlackOther,
        EthnicCategory::Chinese,
        EthnicCategory::OtherEthnicGroup,
        EthnicCategory::NotStated,
        EthnicCategory::NotKnown,
    ];

    /// The Data Dictionary code ("A" … "S", "Z", "99").
    pub fn code(self) -> &'static str {
        self.entry().0
    }

    /// The Data Dictionary's description, e.g. "White - British".
    pub fn label(self) -> &'static str {
        self.entry().1
    }

    fn entry(self) -> (&'static str, &'static str) {
        use EthnicCategory::*;
        match self {
            WhiteBritish => ("A", "White - British"),
            WhiteIrish => ("B", "White - Irish"),
            WhiteOther => ("C", "White - Any other White background"),
            MixedWhiteBlackCaribbean => ("D", "Mixed - White and Black Caribbean"),
            MixedWhiteBlackAfrican => ("E", "Mixed - White and Black African"),
            MixedWhiteAsian => ("F", "Mixed - White and Asian"),
            MixedOther => ("G", "Mixed - Any other mixed background"),
            AsianIndian => ("H", "Asian or Asian British - Indian"),
            AsianPakistani => ("J", "Asian or Asian British - Pakistani"),
            AsianBangladeshi => ("K", "Asian or Asian British - Bangladeshi"),
            AsianOther => ("L", "Asian or Asian British - Any other Asian background"),
            BlackCaribbean => ("M", "Black or Black British - Caribbean"),
            BlackAfrican => ("N", "Black or Black British - African"),
            BlackOther => ("P", "Black or Black British - Any other Black background"),
            Chinese => ("R", "Other Ethnic Groups - Chinese"),
            OtherEthnicGroup => ("S", "Other Ethnic Groups - Any other ethnic group"),
            NotStated => ("Z", "Not stated"),
            NotKnown => ("99", "Not known"),
        }
    }
}

/// A GP practice's ODS code (GENERAL MEDICAL PRACTICE CODE (PATIENT REGISTRATION)): a letter and
/// five digits, e.g. "B82033"; the Data Dictionary's defaults V81997 (not registered), V81998
/// (not applicable) and V81999 (not known) have the same shape. Upper-cased, spaces removed.
pub fn gp_practice_code(value: &str) -> Result<String, ValidationError> {
    let code: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let mut chars = code.chars();
    let letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    let digits: Vec<char> = chars.collect();
    if letter && digits.len() == 5 && digits.iter().all(|c| c.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(ValidationError::Invalid {
            field: "GP practice ODS code",
            reason: format!(
                "'{value}' is not a GP practice code: it is a letter and five digits, e.g. \
                 B82033 (V81999 if the practice is not known). Check the GP's letterhead or \
                 leave it empty."
            ),
        })
    }
}

/// An organisation's or site's ODS code as the CSDS names the provider (ORGANISATION IDENTIFIER
/// (CODE OF PROVIDER), an3–an5: e.g. "RX1" for a trust, "RX101" for one of its sites).
pub fn provider_code(value: &str) -> Result<String, ValidationError> {
    let code = value.trim().to_uppercase();
    let ok = (3..=5).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(code)
    } else {
        Err(ValidationError::Invalid {
            field: "team ODS code",
            reason: format!(
                "'{value}' is not an ODS code: it is 3 to 5 letters and digits, e.g. RX1 or \
                 RX101, as the Organisation Data Service lists the provider."
            ),
        })
    }
}

/// A team's SERVICE OR TEAM TYPE REFERRED TO (COMMUNITY CARE) code, as the operator takes it from
/// the Data Dictionary's list for the team's service: two or three letters and digits. Doorstep
/// holds no copy of that list, so it checks the code's shape, not its meaning.
pub fn service_type_code(value: &str) -> Result<String, ValidationError> {
    let code = value.trim().to_uppercase();
    let ok = (2..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(code)
    } else {
        Err(ValidationError::Invalid {
            field: "service type",
            reason: format!(
                "'{value}' is not a service type code: it is the two or three characters the \
                 NHS Data Dictionary gives the team's service under SERVICE OR TEAM TYPE \
                 REFERRED TO (COMMUNITY CARE)."
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_dictionarys_and_round_trip_through_json() {
        let codes: Vec<&str> = StatedGender::ALL.iter().map(|g| g.code()).collect();
        assert_eq!(codes, ["1", "2", "9", "X"]);
        for g in StatedGender::ALL {
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{}\"", g.code()));
            assert_eq!(serde_json::from_str::<StatedGender>(&json).unwrap(), g);
        }
        let codes: String = EthnicCategory::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, "ABCDEFGHJKLMNPRSZ99");
        for e in EthnicCategory::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.code()));
            assert_eq!(serde_json::from_str::<EthnicCategory>(&json).unwrap(), e);
        }
        assert!(serde_json::from_str::<EthnicCategory>("\"Q\"").is_err());
    }

    #[test]
    fn the_labels_are_those_of_uk_cores_code_systems() {
        // The same code lists NHS England publishes, in ../shared/fhir beside the repository.
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fhir/ukcore/codesystems"
        );
        let xml =
            std::fs::read_to_string(format!("{dir}/CodeSystem-UKCore-EthnicCategoryEngland.xml"))
                .expect("../shared/fhir beside the repository (README.md)");
        for e in EthnicCategory::ALL {
            let concept = format!(
                "<code value=\"{}\" />\n    <display value=\"{}\" />",
                e.code(),
                e.label()
            );
            assert!(xml.contains(&concept), "{concept}");
        }
        let xml = std::fs::read_to_string(format!(
            "{dir}/CodeSystem-NHSDataModelAndDictionary-PersonStatedGenderCode.xml"
        ))
        .unwrap();
        for g in StatedGender::ALL {
            assert!(xml.contains(&format!("\"{}\"", g.label())), "{}", g.label());
        }
    }

    #[test]
    fn ods_codes_are_normalised_or_refused_with_an_example() {
        assert_eq!(gp_practice_code(" b82 033 ").unwrap(), "B82033");
        assert_eq!(gp_practice_code("V81999").unwrap(), "V81999");
        for bad in ["", "B8203", "882033", "B82O33", "B820331"] {
            let e = gp_practice_code(bad).unwrap_err().to_string();
            assert!(e.contains("B82033"), "{e}");
        }
        assert_eq!(provider_code("rx101").unwrap(), "RX101");
        for bad in ["RX", "RX1011", "RX-1"] {
            assert!(provider_code(bad).unwrap_err().to_string().contains("RX1"));
        }
        assert_eq!(service_type_code(" 05 ").unwrap(), "05");
        for bad in ["5", "0555", "0 5"] {
            let e = service_type_code(bad).unwrap_err().to_string();
            assert!(e.contains("SERVICE OR TEAM TYPE"), "{e}");
        }
    }
}
