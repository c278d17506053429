//! Tasks (issue 12, item 4): follow-ups such as bloods due, a prescription request, a referral or
//! a review, assigned to a nurse or a role, with a due date and a status history in the spirit
//! of FHIR Task (requested → ready → in progress → completed / cancelled).
//!
//! A task (`task:<id>`) and each change of its status (`task_status:<id>`) are immutable
//! entries, so nothing about a task ever conflicts: two nurses completing it on two offline
//! phones make two completion entries, both kept in its history, and the task is **completed
//! once** — by the earlier completion. The status and "overdue" are worked out when read.
//! Completing a task is an action of the access policy ([`super::policy::Action::CompleteTask`]).

use automerge::AutoCommit;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::edit::{Delta, Edit};
use super::layout::{self, key, TASK, TASK_STATUS};
use super::model::*;
use super::read;
use super::schedule::local_date;
use crate::error::{Error, Result, ValidationError};
use crate::ids::new_id;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    BloodsDue,
    PrescriptionRequest,
    Referral,
    Review,
    Other(String),
}

impl TaskKind {
    pub fn label(&self) -> String {
        match self {
            TaskKind::BloodsDue => "bloods due".into(),
            TaskKind::PrescriptionRequest => "prescription request".into(),
            TaskKind::Referral => "referral".into(),
            TaskKind::Review => "review".into(),
            TaskKind::Other(s) => s.clone(),
        }
    }
}

/// Who a task is for: one nurse, or anyone in a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum TaskAssignee {
    User {
        user_id: String,
        display_name: String,
    },
    Role {
        role: Role,
    },
}

impl TaskAssignee {
    pub fn describe(&self) -> String {
        match self {
            TaskAssignee::User { display_name, .. } => display_name.clone(),
            TaskAssignee::Role { role } => format!("any {}", role.label()),
        }
    }

    /// Whether `user` is who the task is for.
    pub fn includes(&self, user: &User) -> bool {
        match self {
            TaskAssignee::User { user_id, .. } => *user_id == user.id,
            TaskAssignee::Role { role } => *role == user.role,
        }
    }
}

/// FHIR Task's statuses that Doorstep uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Requested,
    Ready,
    InProgress,
    Completed,
    Cancelled,
}

impl TaskStatus {
    pub fn label(&self) -> &'static str {
        match self {
            TaskStatus::Requested => "requested",
            TaskStatus::Ready => "ready",
            TaskStatus::InProgress => "in progress",
            TaskStatus::Completed => "completed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self, TaskStatus::Completed | TaskStatus::Cancelled)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TaskInput {
    pub kind: TaskKind,
    /// "HbA1c and U&Es", "repeat prescription of dressings to the GP".
    pub description: String,
    pub assignee: TaskAssignee,
    pub due: NaiveDate,
    /// Requested (the default) or ready.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub ready: bool,
}

/// A task as recorded (immutable). Named `CareTask` so that it never shadows Swift's `Task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CareTask {
    pub id: String,
    pub kind: TaskKind,
    pub description: String,
    pub assignee: TaskAssignee,
    pub due: NaiveDate,
    /// Its first status: requested or ready.
    pub status: TaskStatus,
    pub author: Author,
}

/// One change of a task's status (immutable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TaskStatusChange {
    pub id: String,
    pub task_id: String,
    pub status: TaskStatus,
    pub note: Option<String>,
    pub author: Author,
}

/// A task as a list shows it: status and overdue worked out when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct TaskView {
    pub person_id: String,
    pub task: CareTask,
    pub status: TaskStatus,
    /// Open and due before the day it is read for.
    pub overdue: bool,
    /// The completion that counts (the earliest), when completed.
    pub completed_by: Option<Author>,
    /// How many completions were recorded (more than one: completed on two phones offline).
    pub completions: u32,
    /// Every status change, oldest first (every completion is kept).
    pub history: Vec<TaskStatusChange>,
}

fn order(c: &TaskStatusChange) -> (chrono::DateTime<chrono::Utc>, String) {
    (c.author.at, c.id.clone())
}

impl TaskView {
    /// The status a task's history gives it: completed once any completion is recorded (the
    /// earliest counts), else cancelled once cancelled, else its latest change, else its first
    /// status.
    pub fn of(
        person_id: &str,
        task: CareTask,
        mut history: Vec<TaskStatusChange>,
        day: NaiveDate,
    ) -> TaskView {
        history.sort_by_key(order);
        let completions: Vec<&TaskStatusChange> = history
            .iter()
            .filter(|c| c.status == TaskStatus::Completed)
            .collect();
        let status = if !completions.is_empty() {
            TaskStatus::Completed
        } else if history.iter().any(|c| c.status == TaskStatus::Cancelled) {
            TaskStatus::Cancelled
        } else {
            history.last().map(|c| c.status).unwrap_or(task.status)
        };
        TaskView {
            person_id: person_id.to_string(),
            overdue: status.is_open() && task.due < day,
            completed_by: completions.first().map(|c| c.author.clone()),
            completions: completions.len() as u32,
            status,
            history,
            task,
        }
    }
}

/// Every task of the document with its status changes.
pub fn tasks(person_id: &str, doc: &AutoCommit, day: NaiveDate) -> Result<Vec<TaskView>> {
    let all: Vec<CareTask> = layout::entries(doc, TASK)?;
    let changes: Vec<TaskStatusChange> = layout::entries(doc, TASK_STATUS)?;
    Ok(all
        .into_iter()
        .map(|t| {
            let h = changes
                .iter()
                .filter(|c| c.task_id == t.id)
                .cloned()
                .collect();
            TaskView::of(person_id, t, h, day)
        })
        .collect())
}

fn check_assignee(a: &TaskAssignee) -> Result<(), ValidationError> {
    if let TaskAssignee::User {
        user_id,
        display_name,
    } = a
    {
        required_short("assignee", user_id, "choose who the task is for")?;
        required_short(
            "assignee's name",
            display_name,
            "choose who the task is for",
        )?;
    }
    Ok(())
}

impl TaskInput {
    pub fn validated(mut self, today: NaiveDate) -> Result<Self, ValidationError> {
        self.description = required_text(
            "task description",
            &self.description,
            "say what is to be done",
        )?;
        if let TaskKind::Other(s) = &self.kind {
            required_short("task kind", s, "name the kind of task")?;
        }
        check_assignee(&self.assignee)?;
        if self.due < today {
            return Err(ValidationError::Invalid {
                field: "due date",
                reason: format!(
                    "{} is in the past: a new task is due today or later",
                    self.due
                ),
            });
        }
        Ok(self)
    }
}

/// Add a task to a person's record.
pub fn add_task(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    input: TaskInput,
) -> Result<Edit<CareTask>> {
    let input = input.validated(local_date(author.at))?;
    let t = CareTask {
        id: new_id(),
        kind: input.kind,
        description: input.description,
        assignee: input.assignee,
        due: input.due,
        status: if input.ready {
            TaskStatus::Ready
        } else {
            TaskStatus::Requested
        },
        author: author.clone(),
    };
    layout::put_json(doc, &key(TASK, &t.id), &t)?;
    let summary = format!(
        "added a task ({}): {} for {}, due {}",
        t.kind.label(),
        t.description,
        t.assignee.describe(),
        t.due
    );
    Ok(Edit {
        value: t,
        summary,
        deltas: vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))],
    })
}

/// Move a task to `status` (a note is required to cancel). A task this phone already knows to
/// be completed or cancelled cannot move again; two phones completing it offline both record
/// their completion, and it is completed once.
pub fn set_task_status(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    task_id: &str,
    status: TaskStatus,
    note: Option<String>,
) -> Result<Edit<TaskStatusChange>> {
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if let Some(n) = &note {
        text("task note", n)?;
    }
    if status == TaskStatus::Cancelled && note.is_none() {
        return Err(ValidationError::MissingField {
            field: "cancellation reason",
            hint: "say why the task is no longer needed",
        }
        .into());
    }
    if status == TaskStatus::Requested {
        return Err(ValidationError::Invalid {
            field: "status",
            reason: "a task cannot go back to requested: set it ready or in progress".into(),
        }
        .into());
    }
    let task: CareTask =
        layout::get_json(doc, &key(TASK, task_id))?.ok_or_else(|| Error::NotFound {
            what: "task",
            id: task_id.to_string(),
        })?;
    let now = tasks(person_id, doc, local_date(author.at))?
        .into_iter()
        .find(|t| t.task.id == task_id)
        .ok_or_else(|| Error::NotFound {
            what: "task",
            id: task_id.to_string(),
        })?;
    if !now.status.is_open() {
        let by = now
            .completed_by
            .as_ref()
            .map(|a| {
                format!(
                    " by {} on {}",
                    a.display_name,
                    a.at.format("%-d %b %Y %H:%M UTC")
                )
            })
            .unwrap_or_default();
        return Err(ValidationError::Inconsistent(format!(
            "the task \"{}\" is already {}{by}: nothing to change",
            task.description,
            now.status.label()
        ))
        .into());
    }
    let c = TaskStatusChange {
        id: new_id(),
        task_id: task_id.to_string(),
        status,
        note,
        author: author.clone(),
    };
    layout::put_json(doc, &key(TASK_STATUS, &c.id), &c)?;
    let summary = format!(
        "{} the task ({}): {}{}",
        match status {
            TaskStatus::Completed => "completed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::InProgress => "started",
            _ => "made ready",
        },
        task.kind.label(),
        task.description,
        c.note
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );
    Ok(Edit {
        value: c,
        summary,
        deltas: vec![Delta::Clinical(Box::new(read::clinical(person_id, doc)?))],
    })
}

/// The prefix of the ids of the tasks that care-plan review dates raise.
pub const REVIEW_TASK_PREFIX: &str = "plan-review-";

/// The task a care-plan review date raises (issue 12, item 2): "review the care plan", for the
/// role of whoever set the date, due on the date. Its id is made from the date
/// (`plan-review-<date>`, then `-2`, `-3`… once a task of that id is closed), so two phones
/// setting the same review date offline raise one task, not two. Open review tasks of other
/// dates are cancelled with a note saying the date changed (their history keeps them). Nothing
/// is written when the date's open task exists already.
pub fn raise_review_task(
    doc: &mut AutoCommit,
    person_id: &str,
    author: &Author,
    review_date: NaiveDate,
) -> Result<Option<CareTask>> {
    let today = local_date(author.at);
    let existing: Vec<TaskView> = tasks(person_id, doc, today)?
        .into_iter()
        .filter(|t| t.task.id.starts_with(REVIEW_TASK_PREFIX))
        .collect();
    let base = format!("{REVIEW_TASK_PREFIX}{review_date}");
    let of_date = |t: &&TaskView| t.task.id == base || t.task.id.starts_with(&format!("{base}-"));
    if existing.iter().filter(of_date).any(|t| t.status.is_open()) {
        return Ok(None);
    }
    for old in existing.iter().filter(|t| t.status.is_open()) {
        set_task_status(
            doc,
            person_id,
            author,
            &old.task.id,
            TaskStatus::Cancelled,
            Some(format!(
                "the care-plan review date was changed to {review_date}"
            )),
        )?;
    }
    let taken = existing.iter().filter(of_date).count();
    let id = if taken == 0 {
        base
    } else {
        format!("{base}-{}", taken + 1)
    };
    let t = CareTask {
        id,
        kind: TaskKind::Review,
        description: format!("Review the care plan (review date {review_date})"),
        assignee: TaskAssignee::Role { role: author.role },
        due: review_date,
        status: TaskStatus::Requested,
        author: author.clone(),
    };
    layout::put_json(doc, &key(TASK, &t.id), &t)?;
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(device: &str, minutes: i64) -> Author {
        Author {
            user_id: format!("u-{device}"),
            display_name: format!("Nurse {device}"),
            role: Role::DistrictNurse,
            device_id: device.into(),
            at: chrono::Utc::now() + chrono::Duration::minutes(minutes),
        }
    }

    #[test]
    fn a_review_date_raises_one_task_even_from_two_phones_and_a_new_date_replaces_it() {
        let a = author("a", 0);
        let day = local_date(a.at);
        let review = day + chrono::Duration::days(28);
        let mut doc = AutoCommit::new();
        doc.commit();
        let mut other = doc.fork().with_actor(automerge::ActorId::random());
        let t = raise_review_task(&mut doc, "p", &a, review)
            .unwrap()
            .unwrap();
        assert_eq!(t.kind, TaskKind::Review);
        assert_eq!(t.due, review);
        assert_eq!(
            t.assignee,
            TaskAssignee::Role {
                role: Role::DistrictNurse
            }
        );
        // The same date again on the same phone: nothing new.
        assert!(raise_review_task(&mut doc, "p", &a, review)
            .unwrap()
            .is_none());
        // The same date on a second phone offline: one task once merged.
        raise_review_task(&mut other, "p", &author("b", 1), review)
            .unwrap()
            .unwrap();
        doc.commit();
        other.commit();
        doc.merge(&mut other).unwrap();
        let all = tasks("p", &doc, day).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        // A new date cancels the open review of the old one (kept, with the reason) and raises
        // its own.
        let later = review + chrono::Duration::days(7);
        raise_review_task(&mut doc, "p", &a, later)
            .unwrap()
            .unwrap();
        let mut all = tasks("p", &doc, day).unwrap();
        all.sort_by_key(|t| t.task.due);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status, TaskStatus::Cancelled);
        let note = all[0].history[0].note.clone().unwrap();
        assert!(note.contains(&later.to_string()), "{note}");
        assert_eq!(all[1].status, TaskStatus::Requested);
        assert_eq!(all[1].task.due, later);
        // Back to the first date: its task is closed, so a new one is raised beside it.
        let back = raise_review_task(&mut doc, "p", &a, review)
            .unwrap()
            .unwrap();
        assert_eq!(back.id, format!("{REVIEW_TASK_PREFIX}{review}-2"));
        let open: Vec<_> = tasks("p", &doc, day)
            .unwrap()
            .into_iter()
            .filter(|t| t.status.is_open())
            .collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].task.id, back.id);
    }

    #[test]
    fn completed_once_by_the_earlier_completion_with_both_kept() {
        let a = author("a", 0);
        let mut doc = AutoCommit::new();
        let day = local_date(a.at);
        let t = add_task(
            &mut doc,
            "p",
            &a,
            TaskInput {
                kind: TaskKind::BloodsDue,
                description: "HbA1c".into(),
                assignee: TaskAssignee::Role {
                    role: Role::DistrictNurse,
                },
                due: day,
                ready: false,
            },
        )
        .unwrap()
        .value;
        doc.commit();
        let mut other = doc.fork().with_actor(automerge::ActorId::random());
        set_task_status(
            &mut doc,
            "p",
            &author("a", 2),
            &t.id,
            TaskStatus::Completed,
            None,
        )
        .unwrap();
        set_task_status(
            &mut other,
            "p",
            &author("b", 1),
            &t.id,
            TaskStatus::Completed,
            Some("bloods taken".into()),
        )
        .unwrap();
        doc.commit();
        other.commit();
        doc.merge(&mut other).unwrap();
        let v = tasks("p", &doc, day).unwrap().remove(0);
        assert_eq!(v.status, TaskStatus::Completed);
        assert_eq!(v.completions, 2);
        assert_eq!(v.completed_by.unwrap().device_id, "b");
        assert_eq!(v.history.len(), 2);
        let e = set_task_status(
            &mut doc,
            "p",
            &a,
            &t.id,
            TaskStatus::Cancelled,
            Some("x".into()),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("already completed by Nurse b"),
            "{e}"
        );
        // Overdue is worked out when read.
        assert!(!tasks("p", &doc, day + chrono::Duration::days(3)).unwrap()[0].overdue);
    }
}
