package org.doorstep

import kotlinx.coroutines.runBlocking
import org.doorstep.ffi.DoorstepException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

/** FHIR through the boundary: a GP summary imported into the caseload, and the record exported. */
class InteropTest {
    @TempDir
    lateinit var dir: Path

    /** The core's fixture: NHS England's example patient with an allergy, a problem and a flag. */
    private val gpSummary: String =
        Files.readString(Paths.get("..", "core", "src", "fhir", "import", "gp-summary.json"))

    @Test
    fun `a GP summary registers the person, reports each resource and surfaces the allergy until the alert names it`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { s ->
            val report = s.importFhir(gpSummary)
            assertTrue(report.registered)
            assertEquals(listOf(4u, 0u, 0u), listOf(report.added, report.alreadyThere, report.refused))
            assertEquals(FhirImportOutcome.ADDED, report.items[1].outcome)
            assertEquals("allergy: Amoxicillin", report.items[1].what)
            assertTrue(report.allergyDisagreements.single().message.contains("no allergies alert"))

            val clinical = s.patient(report.personId).clinical!!
            assertEquals(
                listOf(ImportedKind.ALLERGY, ImportedKind.CONDITION, ImportedKind.FLAG),
                clinical.imported.map { it.kind },
            )
            assertEquals("372687004", clinical.imported[0].code.snomed)

            s.setAlert(report.personId, AlertInput(AlertKind.ALLERGIES, "Amoxicillin (urticarial rash)", true))
            assertTrue(s.patient(report.personId).clinical!!.allergyDisagreements.isEmpty())

            val again = s.importFhir(gpSummary)
            assertEquals(report.personId, again.personId)
            assertEquals(List(4) { FhirImportOutcome.ALREADY_THERE }, again.items.map { it.outcome })

            val bundle = s.exportFhir(report.personId)
            assertTrue(bundle.contains("\"code\":\"372687004\""), "the coded allergy is exported")
            // The summary gives the NHS number as traced: kept, and exported as verified.
            assertEquals("9912003888", s.patient(report.personId).demographics!!.nhsNumberVerified)
            assertTrue(bundle.contains("Number present and verified"), "the verified status is exported")
        }
    }

    @Test
    fun `a summary without an NHS number is refused whole with a message the nurse can act on`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-a")).use { s ->
            val e = assertThrows<DoorstepException.Validation> {
                runBlocking { s.importFhir(gpSummary.replace("https://fhir.nhs.uk/Id/nhs-number", "urn:other")) }
            }
            assertTrue(e.message!!.contains("register the person by hand"), e.message)
            assertTrue(s.caseload().isEmpty())
        }
    }
}
