@file:JvmName("DoorstepTypes")

package org.doorstep

import java.time.Instant
import java.time.LocalDate

// The generated records and enums under the names apps use: `import org.doorstep.*`. Sealed
// hierarchies cannot be reached through a typealias, so `DoorstepException`, `Intervention` and
// `Service` are imported from org.doorstep.ffi.
typealias StoreConfig = org.doorstep.ffi.StoreConfig
typealias User = org.doorstep.ffi.User
typealias Role = org.doorstep.ffi.Role
typealias Demographics = org.doorstep.ffi.Demographics
typealias Address = org.doorstep.ffi.Address
typealias Contact = org.doorstep.ffi.Contact
typealias PersonRecord = org.doorstep.ffi.PersonRecord
typealias ClinicalRecord = org.doorstep.ffi.ClinicalRecord
typealias AdviceRecord = org.doorstep.ffi.AdviceRecord
typealias CaseloadEntry = org.doorstep.ffi.CaseloadEntry
typealias CaseloadCursor = org.doorstep.ffi.CaseloadCursor
typealias CaseloadPage = org.doorstep.ffi.CaseloadPage
typealias CaseloadRow = org.doorstep.ffi.CaseloadRow
typealias FhirImportReport = org.doorstep.ffi.FhirImportReport
typealias FhirImportItem = org.doorstep.ffi.FhirImportItem
typealias FhirImportOutcome = org.doorstep.ffi.FhirImportOutcome
typealias ImportedEntry = org.doorstep.ffi.ImportedEntry
typealias ImportedKind = org.doorstep.ffi.ImportedKind
typealias ImportedStatus = org.doorstep.ffi.ImportedStatus
typealias ImportedCode = org.doorstep.ffi.ImportedCode
typealias AllergyDisagreement = org.doorstep.ffi.AllergyDisagreement
typealias AlertSummary = org.doorstep.ffi.AlertSummary
typealias PlannedVisitSummary = org.doorstep.ffi.PlannedVisitSummary
typealias PlannedVisitInput = org.doorstep.ffi.PlannedVisitInput
typealias PlannedVisit = org.doorstep.ffi.PlannedVisit
typealias VisitInput = org.doorstep.ffi.VisitInput
typealias Visit = org.doorstep.ffi.Visit
typealias RecordedVisit = org.doorstep.ffi.RecordedVisit
typealias ContactType = org.doorstep.ffi.ContactType
typealias VisitOutcome = org.doorstep.ffi.VisitOutcome
typealias Observations = org.doorstep.ffi.Observations
typealias ObservationSet = org.doorstep.ffi.ObservationSet
typealias Consciousness = org.doorstep.ffi.Consciousness
typealias News2Result = org.doorstep.ffi.News2Result
typealias SubScore = org.doorstep.ffi.SubScore
typealias Parameter = org.doorstep.ffi.Parameter
typealias SpO2Scale = org.doorstep.ffi.SpO2Scale
typealias ClinicalRisk = org.doorstep.ffi.ClinicalRisk
typealias Note = org.doorstep.ffi.Note
typealias AlertKind = org.doorstep.ffi.AlertKind
typealias AlertInput = org.doorstep.ffi.AlertInput
typealias AlertValue = org.doorstep.ffi.AlertValue
typealias Alert = org.doorstep.ffi.Alert
typealias ClinicalConflict = org.doorstep.ffi.ClinicalConflict
typealias EnteredInError = org.doorstep.ffi.EnteredInError
typealias HistoryEntry = org.doorstep.ffi.HistoryEntry
typealias Author = org.doorstep.ffi.Author
typealias Compartment = org.doorstep.ffi.Compartment
typealias PendingChange = org.doorstep.ffi.PendingChange
typealias ChangeBatch = org.doorstep.ffi.ChangeBatch
typealias ExportedChange = org.doorstep.ffi.ExportedChange
typealias ImportReport = org.doorstep.ffi.ImportReport
typealias VirtualWardPathway = org.doorstep.ffi.VirtualWardPathway
typealias EpisodeInput = org.doorstep.ffi.EpisodeInput
typealias Episode = org.doorstep.ffi.Episode
typealias Discharge = org.doorstep.ffi.Discharge
typealias CarePlan = org.doorstep.ffi.CarePlan
typealias AdviceCategory = org.doorstep.ffi.AdviceCategory
typealias FinancialEffectInput = org.doorstep.ffi.FinancialEffectInput
typealias FinancialEffectKind = org.doorstep.ffi.FinancialEffectKind
typealias Period = org.doorstep.ffi.Period
typealias NeedStatus = org.doorstep.ffi.NeedStatus
typealias NeedStatusChange = org.doorstep.ffi.NeedStatusChange
typealias ReferralDestination = org.doorstep.ffi.ReferralDestination
typealias ReferralOut = org.doorstep.ffi.ReferralOut
typealias OutreachReport = org.doorstep.ffi.OutreachReport
typealias OutreachRow = org.doorstep.ffi.OutreachRow
typealias ReportGrouping = org.doorstep.ffi.ReportGrouping
typealias AdviceNeed = org.doorstep.ffi.AdviceNeed
typealias AdviceAction = org.doorstep.ffi.AdviceAction
typealias AdviceOutcome = org.doorstep.ffi.AdviceOutcome
typealias ConsentToShare = org.doorstep.ffi.ConsentToShare
typealias AppointmentInput = org.doorstep.ffi.AppointmentInput
typealias AppointmentVenue = org.doorstep.ffi.AppointmentVenue
typealias VenueKind = org.doorstep.ffi.VenueKind
typealias OutreachAppointment = org.doorstep.ffi.OutreachAppointment
typealias Attendance = org.doorstep.ffi.Attendance
typealias AttendanceResult = org.doorstep.ffi.AttendanceResult
typealias AppointmentOutcome = org.doorstep.ffi.AppointmentOutcome
typealias AppointmentView = org.doorstep.ffi.AppointmentView
typealias ReferralInput = org.doorstep.ffi.ReferralInput
typealias ReferralUrgency = org.doorstep.ffi.ReferralUrgency
typealias Referral = org.doorstep.ffi.Referral
typealias ReferralDecision = org.doorstep.ffi.ReferralDecision
typealias ReferralAnswer = org.doorstep.ffi.ReferralAnswer
typealias ReferralStatus = org.doorstep.ffi.ReferralStatus
typealias ReferralView = org.doorstep.ffi.ReferralView
typealias DuplicateView = org.doorstep.ffi.DuplicateView
typealias PossibleDuplicate = org.doorstep.ffi.PossibleDuplicate
typealias DuplicateMatch = org.doorstep.ffi.DuplicateMatch
typealias LinkDecision = org.doorstep.ffi.LinkDecision
typealias RecordLink = org.doorstep.ffi.RecordLink

// Scored and wound assessments (docs/assessments.md). `AnswerValue` is a sealed class: import it
// from org.doorstep.ffi.
typealias AssessmentAnswer = org.doorstep.ffi.AssessmentAnswer
typealias Measurement = org.doorstep.ffi.Measurement
typealias AssessmentScore = org.doorstep.ffi.AssessmentScore
typealias ItemScore = org.doorstep.ffi.ItemScore
typealias AssessmentInput = org.doorstep.ffi.AssessmentInput
typealias Assessment = org.doorstep.ffi.Assessment
typealias AssessmentDraftInput = org.doorstep.ffi.AssessmentDraftInput
typealias AssessmentDraft = org.doorstep.ffi.AssessmentDraft
typealias AssessmentDefinitionView = org.doorstep.ffi.AssessmentDefinitionView
typealias WoundAssessmentInput = org.doorstep.ffi.WoundAssessmentInput
typealias WoundAssessment = org.doorstep.ffi.WoundAssessment
typealias WoundDraftInput = org.doorstep.ffi.WoundDraftInput
typealias WoundDraft = org.doorstep.ffi.WoundDraft
typealias WoundSize = org.doorstep.ffi.WoundSize
typealias TissueShare = org.doorstep.ffi.TissueShare
typealias TissueType = org.doorstep.ffi.TissueType
typealias ExudateLevel = org.doorstep.ffi.ExudateLevel
typealias Odour = org.doorstep.ffi.Odour
typealias WoundTrend = org.doorstep.ffi.WoundTrend
typealias WoundAreaPoint = org.doorstep.ffi.WoundAreaPoint
typealias AreaTrend = org.doorstep.ffi.AreaTrend

/** Score answers without storing them (a live score while the nurse answers). */
fun scoreAssessment(definitionId: String, definitionVersion: UInt, answers: List<AssessmentAnswer>): AssessmentScore =
    org.doorstep.ffi.scoreAssessment(definitionId, definitionVersion, answers)

/** Every scored assessment this app knows, every version, to draw the forms from. */
fun assessmentDefinitions(): List<AssessmentDefinitionView> = org.doorstep.ffi.assessmentDefinitions()

/** Epoch milliseconds, the representation of every instant that crosses the boundary. */
val Instant.epochMillis: Long get() = toEpochMilli()

fun instantOfMillis(ms: Long): Instant = Instant.ofEpochMilli(ms)

/** A calendar date as the boundary carries it (`"YYYY-MM-DD"`). */
val LocalDate.isoDate: String get() = toString()

val Visit.startedAt: Instant get() = Instant.ofEpochMilli(startedAtMs)
val ObservationSet.takenAt: Instant get() = Instant.ofEpochMilli(takenAtMs)
val Author.at: Instant get() = Instant.ofEpochMilli(atMs)
val HistoryEntry.at: Instant get() = Instant.ofEpochMilli(atMs)
val CaseloadEntry.nextVisit: Instant? get() = nextVisitMs?.let(Instant::ofEpochMilli)
val CaseloadEntry.lastVisit: Instant? get() = lastVisitMs?.let(Instant::ofEpochMilli)

/** NEWS2 of a set of observations without storing it (e.g. while the nurse is still typing). */
fun scoreNews2(observations: Observations, scale: SpO2Scale = SpO2Scale.SCALE1): News2Result =
    org.doorstep.ffi.scoreNews2(observations, scale)

/** The NHS number as 10 digits, or [DoorstepException.Validation] saying what is wrong. */
fun validateNhsNumber(nhsNumber: String): String = org.doorstep.ffi.validateNhsNumber(nhsNumber)

fun formatNhsNumber(nhsNumber: String): String = org.doorstep.ffi.formatNhsNumber(nhsNumber)

/** Bytes of database key the app keeps (wrapped) with the Android Keystore. */
val KEY_LENGTH: Int get() = org.doorstep.ffi.keyLength().toInt()
