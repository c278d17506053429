import Foundation
@_exported import DoorstepFFI

/// The virtual ward (issue 13): admissions with personal parameters, discharge to a destination,
/// the ward census, escalations worked out from observation sets (one id on every device) with
/// their acknowledgements, actions and outcomes, and trends for charts. Times are epoch
/// milliseconds (`...Ms`); dates `"YYYY-MM-DD"`, Europe/London.
extension DoorstepStore {
    /// Admit to the virtual ward; an SpO2 target of 92 % or lower prescribes NEWS2 scale 2.
    public func admitToWard(_ personId: String, _ input: AdmissionInput) async throws -> Episode {
        try await call { try $0.admitToWard(personId: personId, input: input) }
    }

    public func dischargeFromWard(
        _ personId: String, episodeId: String, on day: String, destination: DischargeDestination, reason: String
    ) async throws -> Discharge {
        try await call {
            try $0.dischargeFromWard(
                personId: personId, episodeId: episodeId, on: day, destination: destination, reason: reason)
        }
    }

    /// Everyone on the ward today, with length of stay, latest NEWS2 and open escalations.
    public func wardCensus() async throws -> WardCensus {
        try await call { try $0.wardCensus() }
    }

    /// One person's escalations, or everyone's open ones (highest band first, then newest).
    public func escalations(_ personId: String? = nil) async throws -> [Escalation] {
        try await call { try $0.escalations(personId: personId) }
    }

    public func acknowledgeEscalation(_ personId: String, escalationId: String, note: String? = nil) async throws -> EscalationEvent {
        try await call { try $0.acknowledgeEscalation(personId: personId, escalationId: escalationId, note: note) }
    }

    public func escalationEvent(
        _ personId: String, escalationId: String, kind: EscalationEventKind, note: String? = nil
    ) async throws -> EscalationEvent {
        try await call { try $0.escalationEvent(personId: personId, escalationId: escalationId, kind: kind, note: note) }
    }

    /// NEWS2 and each parameter over time, for a chart; `fromMs`/`toMs` bound the period.
    public func trends(_ personId: String, fromMs: Int64? = nil, toMs: Int64? = nil) async throws -> Trends {
        try await call { try $0.trends(personId: personId, from: fromMs, to: toMs) }
    }
}
