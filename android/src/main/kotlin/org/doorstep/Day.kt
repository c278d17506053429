@file:JvmName("DoorstepDay")

package org.doorstep

import kotlinx.coroutines.flow.Flow

// The district nurse's day (issue 12): care plans whose interventions make the day's visits when
// read, the exceptions of a visit (moved, handed over, cancelled, priority), the today list and
// team schedule, and conflicts on any single-value field. `Intervention` and `Frequency` are
// sealed hierarchies: import them from org.doorstep.ffi.
typealias CarePlanView = org.doorstep.ffi.CarePlanView
typealias PlanProblem = org.doorstep.ffi.PlanProblem
typealias PlanGoal = org.doorstep.ffi.PlanGoal
typealias GoalInput = org.doorstep.ffi.GoalInput
typealias GoalStatus = org.doorstep.ffi.GoalStatus
typealias PlanIntervention = org.doorstep.ffi.PlanIntervention
typealias PlanInterventionInput = org.doorstep.ffi.PlanInterventionInput
typealias PlanReview = org.doorstep.ffi.PlanReview
typealias DayOfWeek = org.doorstep.ffi.DayOfWeek
typealias VisitPriority = org.doorstep.ffi.VisitPriority
typealias VisitStatus = org.doorstep.ffi.VisitStatus
typealias VisitMove = org.doorstep.ffi.VisitMove
typealias VisitMoveInput = org.doorstep.ffi.VisitMoveInput
typealias VisitHandover = org.doorstep.ffi.VisitHandover
typealias VisitCancellation = org.doorstep.ffi.VisitCancellation
typealias VisitPriorityOverride = org.doorstep.ffi.VisitPriorityOverride
typealias DayQuery = org.doorstep.ffi.DayQuery
typealias DayScope = org.doorstep.ffi.DayScope
typealias DayVisit = org.doorstep.ffi.DayVisit
typealias TodayList = org.doorstep.ffi.TodayList
typealias ReviewDue = org.doorstep.ffi.ReviewDue
typealias VisitKey = org.doorstep.ffi.VisitKey
typealias FieldConflict = org.doorstep.ffi.FieldConflict
typealias ConflictValue = org.doorstep.ffi.ConflictValue
typealias ConflictResolution = org.doorstep.ffi.ConflictResolution
typealias CareTask = org.doorstep.ffi.CareTask
typealias TaskInput = org.doorstep.ffi.TaskInput
typealias TaskStatus = org.doorstep.ffi.TaskStatus
typealias TaskStatusChange = org.doorstep.ffi.TaskStatusChange
typealias TaskView = org.doorstep.ffi.TaskView
typealias MedicationInput = org.doorstep.ffi.MedicationInput
typealias MedicationAdministration = org.doorstep.ffi.MedicationAdministration
typealias DoseUnit = org.doorstep.ffi.DoseUnit
typealias Route = org.doorstep.ffi.Route
typealias Witness = org.doorstep.ffi.Witness
typealias SyringeDriverCheck = org.doorstep.ffi.SyringeDriverCheck

/** The today list, again after every change to the day lists (a write on this phone or a sync). */
fun DoorstepStore.todayListFlow(query: DayQuery): Flow<Live<TodayList>> =
    liveQuery({ it.plannedVisits }) { todayList(query) }
