//! `doorstep demo`: the README's main job, end to end on loopback.
//!
//! A sync server starts in this process (embedded SQLite in a temporary directory). An operator
//! creates a team with a district nurse, a virtual-ward clinician and an advice worker; each
//! enrols a phone with a one-time code over HTTP and gets its own encrypted store. The nurse
//! registers four people and syncs, so every phone has them. Then a day offline: visits with
//! observations and notes, a NEWS2 of 7 flagged high, an allergy changed by the nurse and the
//! clinician at the same time, a Waterlow kept as a draft and finished later and a MUST, and the
//! advice worker's work with one person's consent to share.
//! Back in signal every phone syncs, and the demo prints what each phone now holds — and what it
//! may not see.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use doorstep_core::record::*;
use doorstep_core::sync::{self, SyncEndpoint, SyncReport};
use doorstep_core::{
    ClinicalRisk, Consciousness, FieldStore, News2Result, Observations, StoreConfig,
};
use doorstep_server::storage::sqlite::SqliteStorage;
use doorstep_server::{admin, ServerConfig, Storage};
use rand::RngCore;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Keep the server's database and the three phones' encrypted stores in this directory
    /// (new or empty) instead of a temporary one that is removed at the end.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

type R<T> = Result<T, String>;

mod advice_day;
mod import;
mod ward;

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// One enrolled phone.
struct Phone {
    /// First name, for the story.
    short: &'static str,
    user: User,
    device_id: String,
    store: FieldStore,
    endpoint: SyncEndpoint,
}

const TEAM: &str = "calder";
const PEOPLE: [(&str, &str, &str, Role); 3] = [
    ("sam.patel", "Sam", "Sam Patel", Role::DistrictNurse),
    (
        "priya.shah",
        "Priya",
        "Dr Priya Shah",
        Role::VirtualWardClinician,
    ),
    ("joe.brennan", "Joe", "Joe Brennan", Role::AdviceWorker),
];

pub fn run(args: DemoArgs) -> R<()> {
    let started = Instant::now();
    // Where everything lives: a temporary directory, or the one given with --keep.
    let (_tmp, root) = match &args.keep {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map_err(err("cannot read --keep directory"))?
                    .next()
                    .is_some()
            {
                return Err(format!(
                    "{} is not empty: give --keep a new or empty directory",
                    dir.display()
                ));
            }
            std::fs::create_dir_all(dir).map_err(err("cannot create --keep directory"))?;
            (None, dir.clone())
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("doorstep-demo-")
                .tempdir()
                .map_err(err("cannot make a temporary directory"))?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let server_dir = root.join("server");
    let phones_dir = root.join("phones");
    std::fs::create_dir_all(&phones_dir).map_err(err("cannot create the phones directory"))?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(err("cannot start tokio"))?;

    title("Doorstep demo: a day of home visits offline, then one sync per phone");

    // ---------------------------------------------------------------- operator set-up
    let storage = Storage::Sqlite(
        SqliteStorage::open(&server_dir).map_err(err("cannot open the server database"))?,
    );
    admin::create_team(&storage, TEAM, "Calder Valley community care")
        .map_err(err("create team"))?;
    let mut codes = Vec::new();
    for (id, _, name, role) in PEOPLE {
        admin::create_user(&storage, id, name, role, TEAM).map_err(err("create user"))?;
        codes.push(admin::issue_code(&storage, id).map_err(err("issue code"))?);
    }
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(err("cannot listen on loopback"))?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(err("listener address"))?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The ward watch every second (60 s in a real deployment) so the demo can show a re-alert.
    let config = ServerConfig {
        watch: doorstep_server::watch::WatchConfig {
            every: std::time::Duration::from_secs(1),
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    let server = rt.spawn(doorstep_server::serve(
        listener,
        storage,
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    println!(
        "Sync server listening on {url} (embedded SQLite in {})",
        server_dir.display()
    );
    println!("Operator created team \"{TEAM}\" (Calder Valley community care) with three users and a one-time enrolment code each:");
    for ((_, _, name, role), code) in PEOPLE.iter().zip(&codes) {
        println!("  {:<14} {:<24} code {code}", name, role.label());
    }

    // ---------------------------------------------------------------- enrolment over HTTP
    println!(
        "\nEach phone enrols with its code (POST /v1/enrol) and opens its own encrypted store:"
    );
    let mut phones = Vec::new();
    for ((_, short, _, _), code) in PEOPLE.iter().zip(&codes) {
        let key_dir = args.keep.is_some().then_some(phones_dir.as_path());
        phones.push(enrol(&rt, &url, code, &phones_dir, short, key_dir)?);
    }
    let (sam, priya, joe) = (&phones[0], &phones[1], &phones[2]);

    // ---------------------------------------------------------------- morning
    section("1. Morning, in the office: Sam registers four people and syncs; the others sync to get them");
    let today = Utc::now().date_naive();
    let edith = register(
        sam,
        person(
            "Edith",
            "Crawley",
            "9434765919",
            (1941, 3, 9),
            "12 Mill Lane, Hebden Bridge",
            "HX7 8AB",
            "Key safe by back door; code from coordinator. Friendly dog.",
        ),
    )?;
    let arthur = register(
        sam,
        person(
            "Arthur",
            "Holroyd",
            "4857773457",
            (1938, 11, 2),
            "3 Birchcliffe Road, Hebden Bridge",
            "HX7 8DA",
            "Ring twice; hard of hearing.",
        ),
    )?;
    let margaret = register(
        sam,
        person(
            "Margaret",
            "Sutcliffe",
            "4010232137",
            (1947, 6, 21),
            "Flat 4, Market Street, Todmorden",
            "OL14 5AJ",
            "Ground-floor flat, door on the left.",
        ),
    )?;
    let harold = register(
        sam,
        person(
            "Harold",
            "Greenwood",
            "4505577104",
            (1944, 1, 30),
            "27 Burnley Road, Mytholmroyd",
            "HX7 5LH",
            "Parking on the lane behind.",
        ),
    )?;
    let names = |id: &str| -> &'static str {
        if id == edith {
            "Edith Crawley"
        } else if id == arthur {
            "Arthur Holroyd"
        } else if id == margaret {
            "Margaret Sutcliffe"
        } else if id == harold {
            "Harold Greenwood"
        } else {
            "someone else"
        }
    };
    set_alert(sam, &edith, AlertKind::Allergies, "No known drug allergies")?;
    set_alert(
        sam,
        &edith,
        AlertKind::Resuscitation,
        "DNACPR in place (form in the blue folder)",
    )?;
    set_alert(
        sam,
        &arthur,
        AlertKind::RiskToStaff,
        "Visit in pairs after 6 pm",
    )?;
    let episodes = [
        (
            &edith,
            Service::DistrictNursing,
            "Venous leg ulcer, left leg: dressings three times a week",
        ),
        (
            &arthur,
            Service::VirtualWard(VirtualWardPathway::Copd),
            "COPD exacerbation, early supported discharge",
        ),
        (
            &margaret,
            Service::VirtualWard(VirtualWardPathway::HeartFailure),
            "Heart failure: IV-to-oral diuretic step-down at home",
        ),
        (
            &harold,
            Service::DistrictNursing,
            "Insulin administration twice daily",
        ),
    ];
    for (p, service, reason) in episodes {
        sam.store
            .add_episode(
                p,
                EpisodeInput {
                    service,
                    referral_source: "Calderdale Royal Hospital".into(),
                    referral_reason: reason.into(),
                    accepted_on: today - Duration::days(3),
                },
            )
            .map_err(err("add episode"))?;
    }
    println!(
        "  Sam registered Edith Crawley, Arthur Holroyd, Margaret Sutcliffe and Harold Greenwood,"
    );
    println!(
        "  set Edith's allergies (none known) and DNACPR alerts and Arthur's risk-to-staff alert,"
    );
    println!("  and opened an episode of care for each (two district nursing, two virtual ward).");
    println!();
    for p in &phones {
        let r = sync_phone(&rt, p)?;
        print_report(p, &r, &names);
    }
    println!("  Joe, an advice worker, received demographics only: clinical records need the person's consent to share.");

    // ---------------------------------------------------------------- the day offline
    section("2. The day, every phone offline (no network at all)");
    println!("  (Visits are timed earlier today; every edit is stamped with its phone's clock as the demo runs.)");
    let t0 = Utc::now() - Duration::minutes(230);
    let at = |mins: i64| t0 + Duration::minutes(mins);

    // Sam: Edith, a routine visit; then Edith's allergy changes.
    let v = visit(sam, &edith, ContactType::HomeVisit, at(0), vec![Intervention::WoundCare],
        "Leg ulcer reviewed, dressing changed with aseptic technique; wound edges healthy, exudate moderate. Daughter shows GP letter: penicillin allergy (anaphylaxis, 1998).",
        Some(obs(16, 97, 132, 80, 76, 36.7)))?;
    print_visit(sam, "Edith Crawley", &v);
    set_alert(
        sam,
        &edith,
        AlertKind::Allergies,
        "Penicillin: anaphylaxis (GP letter, 1998)",
    )?;
    println!("    Sam changes Edith's allergies to \"Penicillin: anaphylaxis (GP letter, 1998)\"");
    let waterlow_draft = start_waterlow(sam, &edith)?;

    // Priya: Margaret on the virtual ward, by video.
    let v = visit(priya, &margaret, ContactType::Video, at(35), vec![Intervention::Other("diuretic review".into())],
        "Video round: weight down 0.8 kg since Monday, ankles less swollen, breathless on stairs only. Continue oral furosemide 80 mg; bloods Thursday.",
        Some(obs(18, 95, 108, 66, 84, 36.6)))?;
    print_visit(priya, "Margaret Sutcliffe", &v);

    // Sam: Arthur is unwell — NEWS2 7.
    let v = visit(sam, &arthur, ContactType::HomeVisit, at(80), vec![Intervention::MedicationPrompt],
        "Increasingly breathless since last night, productive cough, feels hot. Using accessory muscles. Rescue pack started this morning.",
        Some(obs(24, 93, 128, 76, 112, 38.4)))?;
    print_visit(sam, "Arthur Holroyd", &v);
    if let Some(n) = &v.news2 {
        print_news2_flag("Arthur Holroyd", n);
    }
    sam.store
        .add_note(&arthur, Some(v.visit.id.clone()), "NEWS2 7: 999 called at visit, ambulance requested; virtual ward team and daughter informed by phone. Stayed with Arthur until the crew arrived.")
        .map_err(err("add note"))?;
    println!("    Sam adds a note: 999 called, virtual ward team and daughter informed.");

    // Priya: Edith by telephone, and the same allergy field, at the same time as Sam.
    let v = visit(priya, &edith, ContactType::Telephone, at(120), vec![Intervention::Other("medication review".into())],
        "Telephone review with daughter: antibiotics for cellulitis discussed; daughter reports a latex reaction at the practice last spring.",
        None)?;
    print_visit(priya, "Edith Crawley", &v);
    set_alert(
        priya,
        &edith,
        AlertKind::Allergies,
        "Latex: contact dermatitis (daughter, last spring)",
    )?;
    println!("    Priya, not knowing Sam's change, sets Edith's allergies to \"Latex: contact dermatitis (daughter, last spring)\"");
    priya
        .store
        .add_note(&arthur, None, "Remote monitoring: SpO2 91-93% on air since 06:00, heart rate 105-115. Asked the district nurse to visit this morning.")
        .map_err(err("add note"))?;
    println!("    Priya adds a note to Arthur's record from the virtual ward's remote monitoring.");

    // Sam: Harold, insulin.
    let v = visit(sam, &harold, ContactType::HomeVisit, at(200), vec![Intervention::Insulin, Intervention::MedicationPrompt],
        "Insulin given as prescribed (blood glucose 9.4 mmol/L before). Feet checked: no new marks. Fridge nearly empty; Harold says money is tight.",
        Some(obs(16, 96, 138, 84, 95, 36.9)))?;
    print_visit(sam, "Harold Greenwood", &v);
    must_for(sam, &harold)?;
    finish_waterlow(sam, &waterlow_draft)?;

    // Joe: the advice worker's visits.
    let need = joe
        .store
        .add_advice_need(
            &edith,
            AdviceCategory::UtilitiesAndCommunications,
            "Prepayment meter debt of £412; self-disconnecting in cold weather",
        )
        .map_err(err("advice need"))?;
    joe.store
        .add_advice_action(
            &edith,
            &need.id,
            "Applied to the supplier's hardship fund with Edith's agreement",
        )
        .map_err(err("advice action"))?;
    let written_off = FinancialEffectInput {
        kind: FinancialEffectKind::DebtWrittenOff,
        amount_pence: 41_200,
        recurring: false,
        period: None,
    };
    joe.store
        .record_advice_outcome_with_effect(
            &edith,
            &need.id,
            "Supplier wrote off the debt and moved Edith to a credit meter",
            written_off,
        )
        .map_err(err("advice outcome"))?;
    joe.store
        .set_consent_to_share(&edith, true)
        .map_err(err("consent"))?;
    println!("  Joe Brennan (advice worker) with Edith Crawley: advice need (energy: prepayment meter debt £412),");
    println!("    action (hardship fund application), outcome (debt written off, gain £412.00),");
    println!("    and Edith's consent to share her advice and clinical records between Joe and the health team.");
    let attendance = joe
        .store
        .add_advice_need(
            &harold,
            AdviceCategory::BenefitsAndTaxCredits,
            "Not claiming Attendance Allowance; struggling to afford food",
        )
        .map_err(err("advice need"))?;
    println!("  Joe Brennan with Harold Greenwood: advice need (benefits: Attendance Allowance). No consent to share recorded.");
    outreach_section(joe, &harold, &attendance.id)?;
    println!();
    for p in &phones {
        println!(
            "  {:<14} {} changes waiting to sync",
            p.user.display_name,
            p.store.pending_changes().map_err(err("pending"))?.len()
        );
    }

    // ---------------------------------------------------------------- sync
    section("3. Back in signal: each phone syncs (one POST /v1/sync each)");
    println!("  Round 1, in the order the phones come back into signal:");
    for p in &phones {
        let r = sync_phone(&rt, p)?;
        print_report(p, &r, &names);
    }
    println!(
        "  Round 2, so the phones that synced early also get what colleagues sent after them:"
    );
    for p in &phones {
        let r = sync_phone(&rt, p)?;
        print_report(p, &r, &names);
    }

    // ---------------------------------------------------------------- what each phone holds
    section("4. What each phone holds now");
    for p in &phones {
        print_holdings(p, &phones, &names)?;
    }

    // ---------------------------------------------------------------- agreement
    section("5. Do the phones agree?");
    check_agreement(&phones, &edith, &names)?;

    // ---------------------------------------------------------------- the day (issue 12)
    section("6. The district nurse's day: a care plan makes the visits, a medication, a task completed on two phones, a hand-over, two phones move one visit");
    day(&rt, &phones, &edith)?;

    // ---------------------------------------------------------------- the virtual ward (issue 13)
    section("7. The virtual ward: an admission on SpO2 scale 2, a set escalating offline, its acknowledgement");
    let walter = ward::run(&rt, &phones)?;

    // ---------------------------------------------------------------- remote monitoring (issue 13)
    section("8. Remote monitoring: readings arrive, the server writes an escalating set, the ward watch re-alerts it, Priya acknowledges");
    ward::monitoring(&rt, &phones, &server_dir, &url, &walter)?;

    // ---------------------------------------------------------------- the case worker's day (issue 14)
    section("9. The case worker's day: Harold seen at home, Rose misses the library, a follow-up and a second attempt");
    advice_day::run(joe, &harold)?;
    outreach_totals(joe)?;

    // ---------------------------------------------------------------- referrals (issue 14)
    section("10. A referral between teams: Priya refers Walter to Citizens Advice; Aisha accepts");
    advice_day::referral(&rt, priya, &walter, &server_dir, &phones_dir, &url)?;

    // ---------------------------------------------------------------- a GP summary (issue 15)
    section(
        "11. A GP summary imported on the phone: registered with coded allergies, the alert kept",
    );
    import::run(&rt, &phones[0], &phones[1])?;

    let _ = stop.send(());
    let _ = rt.block_on(server);

    // ---------------------------------------------------------------- the month's return (issue 15)
    section("12. The month's Community Services Data Set extract, from the server's database");
    csds_month(&server_dir)?;
    println!();
    match &args.keep {
        Some(dir) => println!(
            "Kept the server database and the phones' stores (with their keys) in {}.",
            dir.display()
        ),
        None => println!("Removed the temporary server database and phone stores."),
    }
    println!("Demo finished in {:.1} s.", started.elapsed().as_secs_f64());
    drop(phones);
    Ok(())
}

/// What `doorstep admin set-team-profile` and `doorstep report csds` do, for this month.
fn csds_month(server_dir: &Path) -> Result<(), String> {
    let storage = Storage::Sqlite(
        SqliteStorage::open(server_dir).map_err(err("cannot open the server database"))?,
    );
    admin::set_team_profile(&storage, TEAM, "RX101", "05").map_err(err("set team profile"))?;
    println!("  Operator sets the team's ODS code RX101 and its CSDS service type.");
    let (team, people) =
        doorstep_server::csds::csds_input(&storage, TEAM).map_err(err("CSDS extract"))?;
    let today = doorstep_core::record::schedule::local_date(chrono::Utc::now());
    let month = doorstep_core::csds::ReportMonth::new(today.year(), today.month())
        .map_err(err("this month"))?;
    let x = doorstep_core::csds::extract(&team, &people, month);
    println!(
        "  {month}: {} people, {} referrals, {} care contacts, {} care activities (four CSV files with `doorstep report csds`).",
        x.people.len(),
        x.referrals.len(),
        x.contacts.len(),
        x.activities.len()
    );
    for c in x.contacts.iter().take(4) {
        println!(
            "    contact {} {} medium {} location {} attended {} ({})",
            c.contact_date,
            c.contact_time,
            c.consultation_medium,
            if c.location_type.is_empty() {
                "-"
            } else {
                &c.location_type
            },
            c.attended,
            c.outcome
        );
    }
    for w in &x.warnings {
        println!("  warning: {w}");
    }
    Ok(())
}

/// Enrol a phone with its one-time code and open its own encrypted store (its key written beside
/// it when `keep_keys` names the directory).
fn enrol(
    rt: &tokio::runtime::Runtime,
    url: &str,
    code: &str,
    phones_dir: &std::path::Path,
    short: &'static str,
    keep_keys: Option<&std::path::Path>,
) -> R<Phone> {
    let e = rt
        .block_on(sync::enrol(url, code))
        .map_err(err("enrolment"))?;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let path = phones_dir.join(format!("{}.db", short.to_lowercase()));
    if keep_keys.is_some() {
        // A real phone keeps this key in the Android Keystore / iOS Keychain.
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(path.with_extension("key"), hex).map_err(err("write key file"))?;
    }
    let store = FieldStore::open(StoreConfig::new(&path, &key, &e.device_id, e.user.clone()))
        .map_err(err("open store"))?;
    println!(
        "  {:<14} device {}  store {}",
        e.user.display_name,
        e.device_id,
        path.display()
    );
    Ok(Phone {
        short,
        user: e.user,
        device_id: e.device_id,
        store,
        endpoint: SyncEndpoint {
            url: url.to_string(),
            device_token: e.device_token,
        },
    })
}

// -------------------------------------------------------------------- scored assessments

/// Sam starts Edith's Waterlow at her visit and is called away: half the card is a draft on
/// Sam's phone (never synced) with its partial score.
fn start_waterlow(sam: &Phone, edith: &str) -> R<AssessmentDraft> {
    use doorstep_core::AssessmentAnswer as A;
    let draft = sam
        .store
        .save_assessment_draft(
            edith,
            None,
            AssessmentDraftInput {
                definition_id: "waterlow".into(),
                definition_version: 1,
                answers: vec![
                    A::measured("build", &[("height_cm", 158.0), ("weight_kg", 51.2)]),
                    A::choices("skin", &["tissue_paper", "dry"]),
                    A::choice("sex", "female"),
                    A::choice("age", "81_plus"),
                    A::choice("mst_weight_loss", "yes_0_5_to_5_kg"),
                    A::choice("mst_eating_poorly", "yes"),
                ],
                visit_id: None,
            },
        )
        .map_err(err("Waterlow draft"))?;
    println!(
        "    Sam starts Edith's Waterlow (BMI {}): {} points so far, {} sections still to answer — kept as a draft on Sam's phone",
        draft.score.items.first().and_then(|i| i.derived).unwrap_or_default(),
        draft.score.points_so_far,
        draft.score.missing.len()
    );
    Ok(draft)
}

/// Sam resumes the draft later and finishes it: the assessment is recorded, the draft removed.
fn finish_waterlow(sam: &Phone, draft: &AssessmentDraft) -> R<()> {
    use doorstep_core::AssessmentAnswer as A;
    let resumed = sam
        .store
        .assessment_draft(&draft.id)
        .map_err(err("open draft"))?;
    let mut answers = resumed.answers;
    answers.extend([
        A::choice("continence", "urinary"),
        A::choice("mobility", "restricted"),
        A::choices("tissue_malnutrition", &["peripheral_vascular_disease"]),
        A::choice("neurological_deficit", "none"),
        A::choice("surgery_orthopaedic_spinal", "no"),
        A::choice("surgery_time_on_table", "none"),
        A::choices("medication", &["none"]),
    ]);
    sam.store
        .save_assessment_draft(
            &resumed.person_id,
            Some(draft.id.clone()),
            AssessmentDraftInput {
                definition_id: resumed.definition_id,
                definition_version: resumed.definition_version,
                answers,
                visit_id: None,
            },
        )
        .map_err(err("Waterlow draft"))?;
    let w = sam
        .store
        .finish_assessment_draft(&draft.id, Utc::now())
        .map_err(err("finish Waterlow"))?;
    println!(
        "    Sam resumes Edith's Waterlow draft and finishes it: {}",
        w.score.words("Waterlow")
    );
    if let Some(a) = &w.score.action {
        println!("      {}", wrap(a, 92, "      "));
    }
    Ok(())
}

/// A MUST from measured height and weight and the weight in the GP record three months ago.
fn must_for(sam: &Phone, harold: &str) -> R<()> {
    use doorstep_core::AssessmentAnswer as A;
    let m = sam
        .store
        .record_assessment(
            harold,
            AssessmentInput {
                definition_id: "must".into(),
                definition_version: 1,
                answers: vec![
                    A::measured("bmi", &[("height_cm", 175.0), ("weight_kg", 57.0)]),
                    A::measured(
                        "weight_loss",
                        &[("earlier_weight_kg", 61.5), ("current_weight_kg", 57.0)],
                    ),
                    A::choice("acute_disease", "no"),
                ],
                visit_id: None,
                assessed_at: Utc::now(),
            },
        )
        .map_err(err("MUST"))?;
    let derived = |i: usize| {
        m.score
            .items
            .get(i)
            .and_then(|s| s.derived)
            .unwrap_or_default()
    };
    println!(
        "    Sam screens Harold with MUST: BMI {} kg/m², {} % weight lost in 3 months: {}",
        derived(0),
        derived(1),
        m.score.words("MUST")
    );
    if let Some(a) = &m.score.action {
        println!("      {}", wrap(a, 92, "      "));
    }
    Ok(())
}

/// Both clinicians' phones hold the same scored assessments with the same scores.
fn same_assessments(a: &Phone, b: &Phone) -> R<bool> {
    let scores = |p: &Phone| -> R<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for e in p.store.caseload().map_err(err("caseload"))? {
            if let Some(c) = p
                .store
                .patient(&e.person_id)
                .map_err(err("patient"))?
                .clinical
            {
                set.extend(
                    c.assessments
                        .into_iter()
                        .map(|x| format!("{} {}", x.id, x.score.words(&x.definition_id))),
                );
            }
        }
        Ok(set)
    };
    let (x, y) = (scores(a)?, scores(b)?);
    println!(
        "  Sam's and Priya's phones hold the same {} scored assessments (MUST, Waterlow), with the same scores: {}",
        x.len(),
        if x == y { "yes" } else { "NO" }
    );
    Ok(x == y && !x.is_empty())
}

// -------------------------------------------------------------------- helpers: writing

fn person(
    given: &str,
    family: &str,
    nhs: &str,
    dob: (i32, u32, u32),
    line: &str,
    postcode: &str,
    access: &str,
) -> Demographics {
    Demographics {
        nhs_number: Some(nhs.into()),
        given_name: given.into(),
        family_name: family.into(),
        date_of_birth: NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2),
        address: Some(Address {
            lines: line.split(", ").map(str::to_string).collect(),
            postcode: postcode.into(),
        }),
        access_notes: Some(access.into()),
        gp_practice: Some("Calder Community Practice".into()),
        ..Default::default()
    }
}

fn register(p: &Phone, d: Demographics) -> R<String> {
    p.store.register_patient(d).map_err(err("register"))
}

fn set_alert(p: &Phone, person: &str, kind: AlertKind, text: &str) -> R<()> {
    p.store
        .set_alert(
            person,
            AlertInput {
                kind,
                text: text.into(),
                active: true,
            },
        )
        .map(|_| ())
        .map_err(err("set alert"))
}

fn obs(rr: u32, spo2: u32, sys: u32, dia: u32, pulse: u32, temp: f64) -> Observations {
    Observations {
        respiration_rate: Some(rr),
        spo2_percent: Some(spo2),
        on_oxygen: Some(false),
        systolic_bp: Some(sys),
        diastolic_bp: Some(dia),
        pulse: Some(pulse),
        consciousness: Some(Consciousness::Alert),
        temperature_c: Some(temp),
    }
}

fn visit(
    p: &Phone,
    person: &str,
    contact_type: ContactType,
    start: DateTime<Utc>,
    interventions: Vec<Intervention>,
    note: &str,
    observations: Option<Observations>,
) -> R<doorstep_core::RecordedVisit> {
    p.store
        .record_visit(
            person,
            VisitInput {
                planned_visit_id: None,
                contact_type,
                started_at: start,
                ended_at: Some(
                    start
                        + Duration::minutes(if contact_type == ContactType::HomeVisit {
                            30
                        } else {
                            15
                        }),
                ),
                outcome: VisitOutcome::Completed,
                interventions,
                note: Some(note.into()),
                observations,
                scheduled_visit: None,
                outcome_reason: None,
                interventions_done: Vec::new(),
            },
        )
        .map_err(err("record visit"))
}

fn sync_phone(rt: &tokio::runtime::Runtime, p: &Phone) -> R<SyncReport> {
    rt.block_on(sync::sync(&p.store, &p.endpoint, None))
        .map_err(|e| format!("{}'s phone could not sync: {e}", p.short))
}

// -------------------------------------------------------------------- helpers: printing

fn title(s: &str) {
    println!("{s}\n{}\n", "=".repeat(s.chars().count()));
}

fn section(s: &str) {
    println!("\n{s}\n{}", "-".repeat(s.chars().count()));
}

fn kb(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    }
}

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

fn news2_words(n: &News2Result) -> String {
    match (n.total, n.risk) {
        (Some(t), Some(r)) => format!("NEWS2 {t} ({} risk)", r.label()),
        _ => "NEWS2 incomplete".into(),
    }
}

fn print_visit(p: &Phone, name: &str, v: &doorstep_core::RecordedVisit) {
    let what: Vec<String> = v.visit.interventions.iter().map(|i| i.label()).collect();
    println!(
        "  {} {} — {} with {}: {}{}",
        hm(v.visit.started_at),
        p.user.display_name,
        v.visit.contact_type.label(),
        name,
        what.join(", "),
        v.news2
            .as_ref()
            .map(|n| format!("; {}", news2_words(n)))
            .unwrap_or_default()
    );
}

fn print_news2_flag(name: &str, n: &News2Result) {
    let high = n.risk == Some(ClinicalRisk::High);
    println!();
    println!(
        "    !!! {} — NEWS2 {} — {} CLINICAL RISK",
        name,
        n.total.map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
        n.risk
            .map(|r| r.label().to_uppercase())
            .unwrap_or_else(|| "UNKNOWN".into())
    );
    for s in &n.sub_scores {
        println!("        {:<28} {}", s.parameter.label(), s.score);
    }
    if high {
        println!(
            "        RCP response: {}",
            wrap(&n.response, 86, "                      ")
        );
    } else {
        println!("        {}", n.response);
    }
    println!();
}

fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for w in text.split_whitespace() {
        if line > 0 && line + 1 + w.chars().count() > width {
            out.push('\n');
            out.push_str(indent);
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(w);
        line += w.chars().count();
    }
    out
}

fn print_report(p: &Phone, r: &SyncReport, names: &dyn Fn(&str) -> &'static str) {
    let mut extra = Vec::new();
    if !r.people_added.is_empty() {
        extra.push(format!("{} people added", r.people_added.len()));
    }
    if !r.new_conflicts.is_empty() {
        let c: Vec<String> = r
            .new_conflicts
            .iter()
            .map(|c| format!("{}: {}", names(&c.person_id), c.kind.label()))
            .collect();
        extra.push(format!("NEW CLINICAL CONFLICT {}", c.join(", ")));
    }
    println!(
        "  {:<14} {} round trip{}, sent {:>2} changes ({:>7} up), received {:>2} changes ({:>7} down), {} ms{}",
        p.user.display_name,
        r.round_trips,
        if r.round_trips == 1 { "" } else { "s" },
        r.changes_sent,
        kb(r.bytes_sent),
        r.changes_received,
        kb(r.bytes_received),
        r.duration_ms,
        if extra.is_empty() { String::new() } else { format!("; {}", extra.join("; ")) }
    );
}

fn print_holdings(p: &Phone, phones: &[Phone], names: &dyn Fn(&str) -> &'static str) -> R<()> {
    let s = &p.store;
    println!(
        "\n  {}'s phone — {} (device {})",
        p.user.display_name,
        p.user.role.label(),
        p.device_id
    );
    let caseload = s.caseload().map_err(err("caseload"))?;
    println!("    Caseload ({} people):", caseload.len());
    for e in &caseload {
        let news2 = match (e.latest_news2, &e.latest_news2_risk) {
            (Some(n), Some(r)) => {
                let flag = if r == "high" {
                    "  <-- HIGH: emergency response"
                } else {
                    ""
                };
                format!("latest NEWS2 {n} ({}){flag}", r.replace('_', "–"))
            }
            (Some(n), None) => format!("latest NEWS2 {n}"),
            _ => "NEWS2 —".into(),
        };
        println!(
            "      {:<20} NHS {:<13} {:<8}  last visit {:<9}  {}",
            e.display_name,
            e.nhs_number
                .as_deref()
                .map(doorstep_core::clinical::nhs_number::format)
                .unwrap_or_else(|| "—".into()),
            e.postcode.as_deref().unwrap_or("—"),
            e.last_visit.map(hm).unwrap_or_else(|| "—".into()),
            news2
        );
        for a in &e.alerts {
            if a.in_conflict {
                println!("          ! {} IN CONFLICT: {}", a.kind.label(), a.summary);
            } else {
                println!("          alert: {}: {}", a.kind.label(), a.summary);
            }
        }
    }
    let conflicts = s.conflicts(None).map_err(err("conflicts"))?;
    println!("    Open clinical conflicts ({}):", conflicts.len());
    for c in &conflicts {
        println!(
            "      {} — {}: {} values kept side by side until a clinician resolves them",
            names(&c.person_id),
            c.kind.label(),
            c.values.len(),
        );
        for v in &c.values {
            println!(
                "        \"{}\" — {} ({}), device {}, {}",
                v.text,
                v.author.display_name,
                v.author.role.label(),
                v.author.device_id,
                v.author.at.format("%d %b %H:%M:%S%.3f UTC")
            );
        }
    }

    // What it holds of each compartment, and what it does not.
    let mut visits = 0;
    let mut observations = 0;
    let mut notes = 0;
    let mut clinical_held = Vec::new();
    let mut clinical_missing = Vec::new();
    let mut advice_held = Vec::new();
    let mut advice_missing = Vec::new();
    for e in &caseload {
        let rec = s.patient(&e.person_id).map_err(err("patient"))?;
        match &rec.clinical {
            Some(c) => {
                visits += c.visits.len();
                observations += c.observations.len();
                notes += c.notes.len();
                clinical_held.push(names(&e.person_id));
            }
            None => clinical_missing.push(names(&e.person_id)),
        }
        match &rec.advice {
            Some(_) => advice_held.push(names(&e.person_id)),
            None => advice_missing.push(names(&e.person_id)),
        }
    }
    // Which of the missing records exist on a colleague's phone (the ground truth of the demo).
    let exists_elsewhere = |person_name: &str, clinical: bool| -> bool {
        phones.iter().any(|o| {
            o.store.caseload().ok().into_iter().flatten().any(|e| {
                names(&e.person_id) == person_name
                    && o.store
                        .patient(&e.person_id)
                        .map(|r| {
                            if clinical {
                                r.clinical.is_some()
                            } else {
                                r.advice.is_some()
                            }
                        })
                        .unwrap_or(false)
            })
        })
    };
    let everyone = |held: &[&str]| {
        if held.len() == caseload.len() && held.len() > 1 {
            format!("all {}", held.len())
        } else {
            list(held)
        }
    };
    println!(
        "    Holds: demographics of all {}; clinical records of {} ({}, {}, {}); advice records of {}",
        caseload.len(),
        everyone(&clinical_held),
        plural(visits, "visit"),
        plural(observations, "observation set"),
        plural(notes, "note"),
        everyone(&advice_held)
    );
    let role = p.user.role;
    let (missing, label, clinical) = match role {
        Role::AdviceWorker => (&clinical_missing, "clinical", true),
        _ => (&advice_missing, "advice", false),
    };
    let hidden: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|n| exists_elsewhere(n, clinical))
        .collect();
    if hidden.is_empty() {
        println!(
            "    Cannot see: nothing held back (no {label} record exists without consent to share)"
        );
    } else {
        println!(
            "    Cannot see: the {label} record{} of {}, which exist{} on a colleague's phone — {} {} sees {label} records only where the person consents to share",
            if hidden.len() == 1 { "" } else { "s" },
            list(&hidden),
            if hidden.len() == 1 { "s" } else { "" },
            if role.label().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
            role.label()
        );
    }
    Ok(())
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn list(names: &[&str]) -> String {
    match names.len() {
        0 => "nobody".into(),
        1 => names[0].to_string(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

fn check_agreement(phones: &[Phone], edith: &str, names: &dyn Fn(&str) -> &'static str) -> R<()> {
    let mut conflict_ids = BTreeSet::new();
    let mut holders = Vec::new();
    for p in phones {
        let rec = p.store.patient(edith).map_err(err("patient"))?;
        if rec.clinical.is_some() {
            let ids: Vec<String> = p
                .store
                .conflicts(Some(edith.to_string()))
                .map_err(err("conflicts"))?
                .into_iter()
                .map(|c| c.id)
                .collect();
            conflict_ids.insert(ids);
            holders.push(p.short);
        }
    }
    println!(
        "  {}'s allergy conflict has the same id ({}) on every phone holding her clinical record ({}): {}",
        names(edith),
        conflict_ids.iter().next().and_then(|ids| ids.first()).and_then(|id| id.rsplit('/').next()).unwrap_or("none"),
        holders.join(", "),
        if conflict_ids.len() == 1 && conflict_ids.iter().all(|ids| ids.len() == 1) { "yes" } else { "NO" }
    );
    // The two clinicians hold the same clinical records, entry for entry.
    let entries = |p: &Phone| -> R<BTreeSet<String>> {
        let mut set = BTreeSet::new();
        for e in p.store.caseload().map_err(err("caseload"))? {
            if let Some(c) = p
                .store
                .patient(&e.person_id)
                .map_err(err("patient"))?
                .clinical
            {
                set.extend(c.visits.into_iter().map(|v| v.id));
                set.extend(c.observations.into_iter().map(|o| o.id));
                set.extend(c.notes.into_iter().map(|n| n.id));
            }
        }
        Ok(set)
    };
    let (a, b) = (entries(&phones[0])?, entries(&phones[1])?);
    println!(
        "  Sam's and Priya's phones hold the same {} clinical entries (visits, observations, notes): {}",
        a.len(),
        if a == b { "yes" } else { "NO" }
    );
    let assessed = same_assessments(&phones[0], &phones[1])?;
    let mut waiting = 0;
    for p in phones {
        waiting += p.store.pending_changes().map_err(err("pending"))?.len();
    }
    println!("  Changes still waiting to sync on any phone: {waiting}");
    if conflict_ids.len() != 1
        || conflict_ids.iter().any(|ids| ids.len() != 1)
        || a != b
        || !assessed
        || waiting != 0
    {
        return Err("the phones did not converge".into());
    }
    println!("  Nothing was lost and nothing was silently overwritten: the conflict waits for a clinician");
    println!("  (FieldStore::resolve_conflict), and Edith's alerts show both values until then.");
    Ok(())
}

/// Issue 12 on the demo's phones: Sam writes Edith's care plan (insulin at 08:00 and 17:00,
/// a dressing 3× weekly); the phones work the day's visits out of it; Sam hands the evening
/// insulin to Priya; both move the same visit offline and the conflict reaches both phones.
fn day(rt: &tokio::runtime::Runtime, phones: &[Phone], edith: &str) -> R<()> {
    use doorstep_core::record::schedule::local_date;
    use doorstep_core::record::*;
    use doorstep_core::store::{DayQuery, DayScope, TodayList};
    let (Some(sam), Some(priya)) = (phones.first(), phones.get(1)) else {
        return Err("the demo needs Sam's and Priya's phones".into());
    };
    let today = local_date(Utc::now());
    let problem = sam
        .store
        .add_plan_problem(
            edith,
            "Type 2 diabetes on insulin; venous leg ulcer, left gaiter",
        )
        .map_err(err("care-plan problem"))?;
    let goal = sam
        .store
        .add_plan_goal(
            edith,
            GoalInput {
                problem_id: problem.id,
                text: "Blood glucose 4–10 mmol/L and the ulcer healing".into(),
                target_date: None,
                status: GoalStatus::Active,
            },
        )
        .map_err(err("care-plan goal"))?;
    let plan =
        |kind: Intervention, description: &str, frequency: Frequency| PlanInterventionInput {
            goal_id: goal.id.clone(),
            kind,
            description: description.into(),
            frequency,
            window_start: None,
            window_end: None,
            tolerance_minutes: None,
            priority: None,
            clinician: Some(sam.user.id.clone()),
            starts_on: today,
            ends_on: None,
            contact_type: ContactType::HomeVisit,
        };
    for i in [
        plan(
            Intervention::Insulin,
            "NovoMix 30 insulin",
            Frequency::DailyAt {
                times: vec!["08:00".into(), "17:00".into()],
            },
        ),
        plan(
            Intervention::WoundCare,
            "Dressing change",
            Frequency::TimesPerWeek { times: 3 },
        ),
    ] {
        let iv = sam
            .store
            .add_plan_intervention(edith, i)
            .map_err(err("care-plan intervention"))?;
        println!(
            "  Sam adds to Edith's care plan: {} ({})",
            iv.label(),
            iv.priority().label()
        );
    }
    let review = sam
        .store
        .set_plan_review(edith, today + chrono::Duration::days(28))
        .map_err(err("review date"))?;
    let raised = sam
        .store
        .tasks(review.review_date, DayScope::Team, false)
        .map_err(err("tasks"))?;
    for t in raised.iter().filter(|t| t.task.kind == TaskKind::Review) {
        println!(
            "  The plan's review date {} raised a task: {} ({}), due {}",
            review.review_date,
            t.task.description,
            t.task.assignee.describe(),
            t.task.due
        );
    }
    let show = |who: &str, l: &TodayList| {
        println!(
            "  {who}'s list for {} ({}, {} overdue):",
            l.day,
            plural(l.visits.len(), "visit"),
            l.overdue
        );
        for v in &l.visits {
            let what: Vec<&str> = v.interventions.iter().map(|i| i.label.as_str()).collect();
            println!(
                "    {}  {:<16} {:<26} {:<10} {}{}",
                v.window,
                v.display_name,
                v.priority.label(),
                v.status.label(),
                what.join(" + "),
                v.handover_note
                    .as_ref()
                    .map(|n| format!(
                        " — handed over by {}: {n}",
                        v.handed_over_by.clone().unwrap_or_default()
                    ))
                    .unwrap_or_default()
            );
        }
    };
    let mine = |day| DayQuery {
        day,
        scope: DayScope::Mine,
        base_postcode: None,
    };
    let list = sam
        .store
        .today_list(mine(today))
        .map_err(err("today list"))?;
    show("Sam", &list);
    // The morning visit: insulin given, recorded with the visit and its intervention done.
    if let Some(morning) = list.visits.first() {
        let started = Utc::now() - Duration::minutes(20);
        let done: Vec<String> = morning
            .interventions
            .iter()
            .map(|i| i.intervention_id.clone())
            .collect();
        let v = sam
            .store
            .record_visit(
                edith,
                VisitInput {
                    planned_visit_id: None,
                    contact_type: ContactType::HomeVisit,
                    started_at: started,
                    ended_at: Some(started + Duration::minutes(15)),
                    outcome: VisitOutcome::Completed,
                    interventions: vec![Intervention::Insulin],
                    note: Some("Blood glucose 7.2 mmol/L before the dose.".into()),
                    observations: None,
                    scheduled_visit: Some(morning.visit_ref.clone()),
                    outcome_reason: None,
                    interventions_done: done,
                },
            )
            .map_err(err("record visit"))?;
        let m = sam
            .store
            .record_medication(
                edith,
                MedicationInput {
                    visit_id: Some(v.visit.id.clone()),
                    drug: "NovoMix 30 insulin".into(),
                    dose: 18.0,
                    unit: DoseUnit::Units,
                    route: Route::Subcutaneous,
                    at: started + Duration::minutes(5),
                    given: true,
                    not_given_reason: None,
                    controlled_drug: false,
                    witness: None,
                    syringe_driver: None,
                    note: None,
                },
            )
            .map_err(err("medication"))?;
        println!(
            "  Sam records the {} visit as completed, and the medication: {} {} {} ({}).",
            morning.window,
            m.drug,
            m.dose,
            m.unit.label(),
            m.route.label()
        );
    }
    let task = sam
        .store
        .add_task(
            edith,
            TaskInput {
                kind: TaskKind::BloodsDue,
                description: "HbA1c before the diabetes review".into(),
                assignee: TaskAssignee::Role {
                    role: Role::DistrictNurse,
                },
                due: today,
                ready: true,
            },
        )
        .map_err(err("task"))?;
    for p in [sam, priya] {
        sync_phone(rt, p)?;
    }
    println!(
        "  Sam adds a task: {} ({}), due {}; both phones sync, then both complete it offline.",
        task.description,
        task.kind.label(),
        task.due
    );
    sam.store
        .complete_task(edith, &task.id, Some("taken at the morning visit".into()))
        .map_err(err("complete task"))?;
    priya
        .store
        .complete_task(
            edith,
            &task.id,
            Some("taken at the virtual ward check".into()),
        )
        .map_err(err("complete task"))?;
    for p in [sam, priya, sam] {
        sync_phone(rt, p)?;
    }
    for p in [sam, priya] {
        for t in p
            .store
            .tasks(today, DayScope::Team, true)
            .map_err(err("tasks"))?
            .iter()
            .filter(|t| t.task.id == task.id)
        {
            println!(
                "    {}'s phone: task {} — completed once, by {}; {} completions kept in its history",
                p.short,
                t.status.label(),
                t.completed_by.as_ref().map(|a| a.display_name.clone()).unwrap_or_default(),
                t.completions
            );
        }
    }
    let list = sam
        .store
        .today_list(mine(today))
        .map_err(err("today list"))?;
    let Some(evening) = list.visits.iter().find(|v| v.window.starts_with("16:30")) else {
        return Err("the plan did not make an evening visit".into());
    };
    let evening = evening.visit_ref.clone();
    sam.store
        .hand_over_visit(
            edith,
            &evening,
            &priya.user.id,
            &priya.user.display_name,
            "Evening insulin: 18 units, pen in the fridge door",
        )
        .map_err(err("hand-over"))?;
    println!("  Sam hands the evening visit to Priya, and both phones sync.");
    for p in [sam, priya] {
        let r = sync_phone(rt, p)?;
        println!(
            "    {} synced: sent {}, received {} changes",
            p.user.display_name, r.changes_sent, r.changes_received
        );
    }
    show(
        "Priya",
        &priya
            .store
            .today_list(mine(today))
            .map_err(err("today list"))?,
    );
    let tomorrow = today + chrono::Duration::days(1);
    println!("  Offline, Sam moves Edith's evening visit to 18:00 tomorrow; Priya moves it to 19:00 tomorrow.");
    for (p, h) in [(sam, "18"), (priya, "19")] {
        p.store
            .move_visit(
                edith,
                &evening,
                VisitMoveInput {
                    to_date: tomorrow,
                    window_start: format!("{h}:00"),
                    window_end: format!("{h}:30"),
                    reason: Some("Edith at her daughter's this evening".into()),
                },
            )
            .map_err(err("move visit"))?;
    }
    for p in [sam, priya, sam] {
        let r = sync_phone(rt, p)?;
        println!(
            "    {} synced: sent {}, received {} changes",
            p.user.display_name, r.changes_sent, r.changes_received
        );
    }
    for p in [sam, priya] {
        let conflicts = p
            .store
            .field_conflicts(Some(edith.to_string()))
            .map_err(err("conflicts"))?;
        for c in conflicts.iter().filter(|c| c.key.starts_with("dv_move:")) {
            let values: Vec<String> = c
                .values
                .iter()
                .map(|v| format!("\"{}\" — {}", v.summary, v.author.display_name))
                .collect();
            println!(
                "  {}'s phone: CONFLICT on {}: {}",
                p.short,
                c.what,
                values.join(" | ")
            );
        }
    }
    let conflict = priya
        .store
        .field_conflicts(Some(edith.to_string()))
        .map_err(err("conflicts"))?
        .into_iter()
        .find(|c| c.key.starts_with("dv_move:"))
        .ok_or("the two moves did not make a conflict")?;
    let keep = conflict
        .values
        .iter()
        .position(|v| v.author.user_id == sam.user.id)
        .unwrap_or(0) as u32;
    priya
        .store
        .resolve_field_conflict(&conflict.id, keep)
        .map_err(err("resolve"))?;
    for p in [priya, sam] {
        sync_phone(rt, p)?;
    }
    println!("  Priya keeps Sam's move; after a sync both phones show it with no conflict:");
    show(
        "Priya (tomorrow)",
        &priya
            .store
            .today_list(mine(tomorrow))
            .map_err(err("today list"))?,
    );
    let left = sam
        .store
        .field_conflicts(None)
        .map_err(err("conflicts"))?
        .iter()
        .filter(|c| c.key.starts_with("dv_"))
        .count();
    println!("  Open conflicts on visits on Sam's phone now: {left} (Edith's allergies still wait for a clinician)");
    Ok(())
}

/// Issue 14: an outcome with its annualised gain, and the outreach report's totals on Joe's phone.
fn outreach_section(joe: &Phone, harold: &str, need_id: &str) -> Result<(), String> {
    let weekly = FinancialEffectInput {
        kind: FinancialEffectKind::IncomeGained,
        amount_pence: 7_265,
        recurring: true,
        period: Some(Period::Weekly),
    };
    let o = joe
        .store
        .record_advice_outcome_with_effect(
            harold,
            need_id,
            "Attendance Allowance awarded (lower rate)",
            weekly,
        )
        .map_err(err("advice outcome"))?;
    let e = o.financial_effect();
    println!(
        "    Outcome: Attendance Allowance {} a week = {} a year (× 52).",
        outreach_edit::pounds(e.amount_pence),
        outreach_edit::pounds(e.annual_pence())
    );
    outreach_totals(joe)
}

/// The outreach report's totals for today on Joe's phone.
fn outreach_totals(joe: &Phone) -> Result<(), String> {
    let today = schedule::local_date(Utc::now());
    let report = joe
        .store
        .outreach_report(today, today)
        .map_err(err("outreach report"))?;
    if let Some(t) = report.total() {
        println!(
            "  Joe's outreach report today: {} clients seen, {} needs, {} outcomes; income gained {} (annualised) + debt written off {} + one-off {} = total gain {}; costs avoided {} (apart).",
            t.clients_seen,
            t.needs_recorded,
            t.outcomes,
            outreach_edit::pounds(t.income_gained_annual_pence),
            outreach_edit::pounds(t.debt_written_off_pence),
            outreach_edit::pounds(t.one_off_gains_pence),
            outreach_edit::pounds(t.total_gain_pence),
            outreach_edit::pounds(t.costs_avoided_pence)
        );
    }
    Ok(())
}
