package org.doorstep

import org.doorstep.ffi.Intervention
import java.nio.file.Path
import java.time.Instant
import java.time.temporal.ChronoUnit

/** Builders for tests and the benchmark: real stores in real files, nothing mocked. */
object Fixtures {
    /** A test key; an app takes 32 random bytes and keeps them wrapped by the Android Keystore. */
    val KEY: ByteArray = ByteArray(32) { 7 }

    fun user(id: String, role: Role = Role.DISTRICT_NURSE) =
        User(id = id, displayName = "Nurse $id", role = role, team = "team-a")

    fun config(
        dir: Path,
        device: String,
        key: ByteArray = KEY,
        background: Boolean = true,
        role: Role = Role.DISTRICT_NURSE,
    ) = StoreConfig(
        path = dir.resolve("$device.db").toString(),
        key = key,
        deviceId = device,
        user = user("user-$device", role),
        backgroundCompaction = background,
    )

    fun demographics(given: String, family: String, nhs: String? = null) = Demographics(
        nhsNumber = nhs,
        givenName = given,
        familyName = family,
        dateOfBirth = "1941-03-09",
        address = Address(lines = listOf("12 Mill Lane", "Hebden Bridge"), postcode = "hx7 8aa"),
        accessNotes = "Key safe by back door. Friendly dog.",
    )

    /**
     * A full set (all seven NEWS2 parameters plus diastolic). RCP chart: respiration 22 -> 2,
     * SpO2 95 % on scale 1 -> 1, air -> 0, systolic 105 -> 1, pulse 95 -> 1, alert -> 0,
     * 38.5 °C -> 1: total 6, medium clinical risk.
     */
    val observationsScoring6 = Observations(
        respirationRate = 22u,
        spo2Percent = 95u,
        onOxygen = false,
        systolicBp = 105u,
        diastolicBp = 70u,
        pulse = 95u,
        consciousness = Consciousness.ALERT,
        temperatureC = 38.5,
    )

    /** A full set that scores NEWS2 0 (the benchmark's visit, as in the Rust benchmark). */
    val normalObservations = Observations(
        respirationRate = 16u,
        spo2Percent = 97u,
        onOxygen = false,
        systolicBp = 128u,
        diastolicBp = 78u,
        pulse = 72u,
        consciousness = Consciousness.ALERT,
        temperatureC = 36.8,
    )

    val note500: String = ("Wound on left lower leg reviewed; dressing changed with aseptic technique. " +
        "Exudate moderate, no odour, edges healthy. Patient reports pain 3/10, taking paracetamol as " +
        "prescribed. Carer present throughout. ").repeat(3).take(500)

    fun visit(observations: Observations?, minutesAgo: Long = 0): VisitInput {
        val start = Instant.now().minus(minutesAgo + 30, ChronoUnit.MINUTES)
        return VisitInput(
            contactType = ContactType.HOME_VISIT,
            startedAtMs = start.toEpochMilli(),
            endedAtMs = start.plus(25, ChronoUnit.MINUTES).toEpochMilli(),
            outcome = VisitOutcome.COMPLETED,
            interventions = listOf(Intervention.WoundCare, Intervention.Insulin, Intervention.MedicationPrompt),
            note = note500,
            observations = observations,
        )
    }
}
