@file:JvmName("DoorstepWard")

package org.doorstep

// The virtual ward (issue 13): admissions with personal parameters, discharge to a destination,
// the ward census, escalations worked out from observation sets (the same id on every device)
// with their acknowledgements, actions and outcomes, and trends for charts. `Trigger` is a sealed
// hierarchy: import it from org.doorstep.ffi. Times are epoch milliseconds (`...Ms`).
typealias AdmissionInput = org.doorstep.ffi.AdmissionInput
typealias AdmissionRoute = org.doorstep.ffi.AdmissionRoute
typealias WardAdmission = org.doorstep.ffi.WardAdmission
typealias PersonalParameters = org.doorstep.ffi.PersonalParameters
typealias ReadingRange = org.doorstep.ffi.ReadingRange
typealias DischargeDestination = org.doorstep.ffi.DischargeDestination
typealias WardCensus = org.doorstep.ffi.WardCensus
typealias CensusEntry = org.doorstep.ffi.CensusEntry
typealias Escalation = org.doorstep.ffi.Escalation
typealias EscalationBand = org.doorstep.ffi.EscalationBand
typealias EscalationEvent = org.doorstep.ffi.EscalationEvent
typealias EscalationEventKind = org.doorstep.ffi.EscalationEventKind
typealias EscalationStatus = org.doorstep.ffi.EscalationStatus
typealias Trends = org.doorstep.ffi.Trends
typealias TrendSeries = org.doorstep.ffi.TrendSeries
typealias TrendPoint = org.doorstep.ffi.TrendPoint
typealias TrendMeasure = org.doorstep.ffi.TrendMeasure
