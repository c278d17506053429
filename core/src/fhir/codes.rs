//! Every code system, code, unit and profile the FHIR export uses, in one place
//! (docs/interop.md has the table). SNOMED CT and LOINC codes are those of NHS England's UK Core
//! examples and value-set expansions in `../shared/fhir/ukcore` (the NEWS2 bundle example, the
//! vital-signs profiles' fixed codes); the validator does not check them offline, so
//! `tests/tests/fhir.rs` compares them with the NEWS2 example.

// ---------------------------------------------------------------- systems

pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// An organisation's ODS code (a GP practice's, here).
pub const ODS_ORGANISATION: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// UK Core's ethnic-category extension on Patient and its England code system.
pub const ETHNIC_CATEGORY_EXT: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory";
pub const ETHNIC_CATEGORY_ENGLAND: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland";
/// An identifier that is a URI (`urn:uuid:<entry id>`), as FHIR's datatypes page has it (NHS
/// England's examples use `https://tools.ietf.org/html/rfc4122`, which the validator flags).
pub const URI: &str = "urn:ietf:rfc:3986";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub const CONDITION_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/condition-ver-status";
pub const ALLERGY_CLINICAL: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
pub const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
pub const FLAG_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/flag-category";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const V2_RELATIONSHIP: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
pub const PROVENANCE_PARTICIPANT: &str =
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
pub const MED_ADMIN_FUNCTION: &str =
    "http://terminology.hl7.org/CodeSystem/med-admin-perform-function";
pub const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
pub const ISO_4217: &str = "urn:iso:std:iso:4217";
pub const NHS_NUMBER_VERIFICATION: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";
pub const NHS_NUMBER_VERIFICATION_EXT: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";

/// Doorstep's own canonical base, for what only Doorstep defines: the assessment definitions as
/// Questionnaires, their answer codes, users' and devices' identifiers, the conflict tag.
/// `example.org` is reserved (RFC 2606): a trust that publishes these replaces it with its own
/// base before go-live (docs/interop.md, what is left).
pub const DOORSTEP_BASE: &str = "https://doorstep.example.org/fhir";
pub const DOORSTEP_USER_ID: &str = "https://doorstep.example.org/fhir/Id/user";
pub const DOORSTEP_DEVICE_ID: &str = "https://doorstep.example.org/fhir/Id/device";
pub const DOORSTEP_TAG: &str = "https://doorstep.example.org/fhir/CodeSystem/record-tag";
/// The tag on every resource made from one of several concurrent values of an alert.
pub const TAG_IN_CONFLICT: &str = "in-conflict";

// ---------------------------------------------------------------- profiles

pub const UKCORE: &str = "https://fhir.hl7.org.uk/StructureDefinition/";

pub fn profile(name: &str) -> String {
    format!("{UKCORE}{name}")
}

// ---------------------------------------------------------------- vital signs

/// One vital sign: its UK Core profile, LOINC and SNOMED CT codings and UCUM unit.
#[derive(Debug, Clone, Copy)]
pub struct Vital {
    pub profile: &'static str,
    pub loinc: (&'static str, &'static str),
    pub snomed: (&'static str, &'static str),
    /// `(unit text fixed by the profile, UCUM code)`.
    pub unit: (&'static str, &'static str),
}

pub const RESPIRATION_RATE: Vital = Vital {
    profile: "UKCore-Observation-VitalSigns-RespirationRate",
    loinc: ("9279-1", "Respiratory rate"),
    snomed: ("86290005", "Respiratory rate"),
    unit: ("per minute", "/min"),
};

/// UK Core fixes LOINC 2708-6 (and allows one LOINC coding, so 59408-5 is refused). SNOMED CT
/// 431314004 "Peripheral oxygen saturation" is what a pulse oximeter at a home visit measures
/// (UK Core's own SpO2 example; its NEWS2 bundle example uses the parent, 103228002).
pub const OXYGEN_SATURATION: Vital = Vital {
    profile: "UKCore-Observation-VitalSigns-OxygenSaturation",
    loinc: ("2708-6", "Oxygen saturation in Arterial blood"),
    snomed: ("431314004", "Peripheral oxygen saturation"),
    unit: ("percent", "%"),
};

pub const HEART_RATE: Vital = Vital {
    profile: "UKCore-Observation-VitalSigns-HeartRate",
    loinc: ("8867-4", "Heart rate"),
    snomed: ("364075005", "Heart rate"),
    unit: ("per minute", "/min"),
};

pub const BODY_TEMPERATURE: Vital = Vital {
    profile: "UKCore-Observation-VitalSigns-BodyTemperature",
    loinc: ("8310-5", "Body temperature"),
    snomed: ("276885007", "Core body temperature"),
    unit: ("degree Celsius", "Cel"),
};

/// The profile whose codes and units the blood pressure follows…
pub const BLOOD_PRESSURE_PROFILE: &str = "UKCore-Observation-VitalSigns-BloodPressure";
/// …and the one it names: HAPI FHIR 8.8.0 cannot evaluate the BP profile's nested slices (see
/// `observations.rs`), so the parent vital-signs profile.
pub const BLOOD_PRESSURE_CLAIMED: &str = "UKCore-Observation-VitalSigns";
pub const BLOOD_PRESSURE_LOINC: (&str, &str) =
    ("85354-9", "Blood pressure panel with all children optional");
pub const BLOOD_PRESSURE_SNOMED: (&str, &str) = ("75367002", "Blood pressure");
/// The profile fixes the LOINC display and the component's text to these words.
pub const SYSTOLIC_LOINC: (&str, &str) = ("8480-6", "Systolic blood pressure");
pub const SYSTOLIC_SNOMED: (&str, &str) = ("72313002", "Systolic arterial pressure");
pub const DIASTOLIC_LOINC: (&str, &str) = ("8462-4", "Diastolic blood pressure");
pub const DIASTOLIC_SNOMED: (&str, &str) = ("1091811000000102", "Diastolic arterial pressure");
pub const MM_HG: (&str, &str) = ("millimeter of mercury", "mm[Hg]");

pub const ACVPU_PROFILE: &str = "UKCore-Observation-ACVPU";
pub const ACVPU: (&str, &str) = (
    "1104441000000107",
    "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score",
);
pub const ACVPU_ALERT: (&str, &str) = ("248234008", "Mentally alert");
pub const ACVPU_CONFUSION: (&str, &str) = ("130987000", "Acute confusion");
pub const ACVPU_VOICE: (&str, &str) = ("300202002", "Responds to voice");
pub const ACVPU_PAIN: (&str, &str) = ("450847001", "Responds to pain");
pub const ACVPU_UNRESPONSIVE: (&str, &str) = ("422768004", "Unresponsive");

/// Air or oxygen, as the NEWS2 example records it: an Observation with the code alone.
pub const ROOM_AIR: (&str, &str) = ("722742002", "Breathing room air");
pub const ON_OXYGEN: (&str, &str) = ("371825009", "Patient on oxygen");

// ---------------------------------------------------------------- NEWS2

pub const NEWS2_PROFILE: &str = "UKCore-Observation-EarlyWarningTotalScore";
pub const NEWS2_TOTAL: (&str, &str) = (
    "1104051000000101",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score",
);
/// The unit of every NEWS2 score (fixed by the profile), unit text as in the NEWS2 example.
pub const SCORE_OF: (&str, &str) = ("ScoreOf", "{ScoreOf}");
pub const NEWS2_RESPIRATION: (&str, &str) = (
    "1104301000000104",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - respiration rate score",
);
pub const NEWS2_SPO2_SCALE1: (&str, &str) = (
    "1104311000000102",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - oxygen saturation scale 1 score",
);
pub const NEWS2_SPO2_SCALE2: (&str, &str) = (
    "1104321000000108",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - oxygen saturation scale 2 score",
);
pub const NEWS2_AIR_OR_OXYGEN: (&str, &str) = (
    "1104331000000105",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - air or oxygen score",
);
pub const NEWS2_SYSTOLIC: (&str, &str) = (
    "1104341000000101",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - systolic blood pressure score",
);
pub const NEWS2_PULSE: (&str, &str) = (
    "1104351000000103",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - pulse score",
);
pub const NEWS2_CONSCIOUSNESS: (&str, &str) = (
    "1104361000000100",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - consciousness score",
);
pub const NEWS2_TEMPERATURE: (&str, &str) = (
    "1104371000000107",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) - temperature score",
);

// ---------------------------------------------------------------- encounters

/// Encounter.type for a contact that took place (UK Core EncounterType expansion).
pub const SEEN_IN_OWN_HOME: (&str, &str) = ("270420001", "Seen in own home");
pub const TELEPHONE_ENCOUNTER: (&str, &str) = ("185317003", "Telephone encounter");
pub const VIDEO_ENCOUNTER: (&str, &str) = ("307321000000107", "Video-link encounter");
/// Encounter.class (v3 ActCode): home health, virtual.
pub const CLASS_HOME: (&str, &str) = ("HH", "home health");
pub const CLASS_VIRTUAL: (&str, &str) = ("VR", "virtual");

// ---------------------------------------------------------------- medication routes (dm+d / SNOMED CT)

pub const ROUTE_ORAL: (&str, &str) = ("26643006", "Oral");
pub const ROUTE_SUBCUTANEOUS: (&str, &str) = ("34206005", "Subcutaneous");
pub const ROUTE_INTRAMUSCULAR: (&str, &str) = ("78421000", "Intramuscular");
pub const ROUTE_INTRAVENOUS: (&str, &str) = ("47625008", "Intravenous");
pub const ROUTE_TOPICAL: (&str, &str) = ("6064005", "Topical");
pub const ROUTE_INHALATION: (&str, &str) = ("18679011000001101", "Inhalation");
