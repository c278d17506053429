package org.doorstep

import kotlinx.coroutines.runBlocking
import org.doorstep.ffi.DoorstepException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/** A wound assessment half-measured, kept as a draft, resumed after reopening and finished once. */
class WoundDraftTest {
    @TempDir
    lateinit var dir: Path

    private val half = WoundDraftInput(
        site = "sacrum",
        size = WoundSize(lengthMm = 30.0, widthMm = 20.0, depthMm = 4.0),
        tissue = emptyList(),
    )

    @Test
    fun `a wound draft is kept, resumed, refused while incomplete, finished once, never synced`() = runBlocking {
        val config = Fixtures.config(dir, "phone-a")
        val (personId, draftId, sent) = DoorstepStore.open(config).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val sent = s.exportChanges().changes.size
            val draft = s.saveWoundDraft(id, half)
            assertEquals(listOf("tissue", "exudate", "odour", "pain"), draft.missing)
            assertEquals(600.0, draft.areaMm2)
            assertEquals(sent, s.exportChanges().changes.size, "a draft is never a change to sync")
            Triple(id, draft.id, sent)
        }
        DoorstepStore.open(config).use { s ->
            val resumed = s.woundDrafts(personId).single()
            assertEquals(draftId, resumed.id)
            assertEquals(half, resumed.input)
            val incomplete = assertThrows<DoorstepException.Validation> {
                runBlocking { s.finishWoundDraft(draftId) }
            }
            assertTrue(incomplete.message!!.contains("tissue, exudate, odour, pain"), incomplete.message)

            val full = resumed.input.copy(
                tissue = listOf(TissueShare(TissueType.GRANULATING, 100u)),
                exudate = ExudateLevel.LOW,
                odour = Odour.NONE,
                pain = 1u,
            )
            assertTrue(s.saveWoundDraft(personId, full, draftId).missing.isEmpty())
            val recorded = s.finishWoundDraft(draftId)
            assertEquals(draftId, recorded.id)
            assertEquals(600.0, recorded.areaMm2)
            assertTrue(s.woundDrafts().isEmpty())
            assertEquals(sent + 1, s.exportChanges().changes.size)
            assertEquals("sacrum", s.patient(personId).clinical!!.woundAssessments.single().site)

            // Impossible dimensions in a draft: refused naming the dimension, nothing kept.
            val bad = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.saveWoundDraft(personId, half.copy(size = WoundSize(0.0, 20.0, 1.0)))
                }
            }
            assertTrue(bad.message!!.contains("wound length"), bad.message)
            assertTrue(s.woundDrafts().isEmpty())
        }
    }
}
