package org.doorstep

import kotlinx.coroutines.runBlocking
import org.doorstep.ffi.AnswerValue
import org.doorstep.ffi.DoorstepException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.Instant
import java.time.temporal.ChronoUnit

/** Scored assessments through the bindings: a Waterlow card as a draft, resumed, finished, read. */
class AssessmentTest {
    @TempDir
    lateinit var dir: Path

    private fun choice(item: String, option: String) = AssessmentAnswer(item, AnswerValue.Choice(option))
    private fun ticks(item: String, vararg options: String) = AssessmentAnswer(item, AnswerValue.Choices(options.toList()))

    private val firstHalf = listOf(
        AssessmentAnswer(
            "build",
            AnswerValue.Measured(listOf(Measurement("height_cm", 162.0), Measurement("weight_kg", 49.5))),
        ),
        ticks("skin", "tissue_paper", "dry"),
        choice("sex", "female"),
        choice("age", "81_plus"),
        choice("mst_weight_loss", "yes_0_5_to_5_kg"),
        choice("mst_eating_poorly", "yes"),
    )

    private val secondHalf = listOf(
        choice("continence", "urinary"),
        choice("mobility", "restricted"),
        ticks("tissue_malnutrition", "anaemia"),
        AssessmentAnswer("neurological_deficit", AnswerValue.Points(4u)),
        choice("surgery_orthopaedic_spinal", "no"),
        choice("surgery_time_on_table", "none"),
        ticks("medication", "steroids"),
    )

    private fun waterlow(answers: List<AssessmentAnswer>) =
        AssessmentDraftInput(definitionId = "waterlow", definitionVersion = 1u, answers = answers)

    @Test
    fun `a draft is kept, resumed after reopening, finished, and read back with its score and band`() = runBlocking {
        val config = Fixtures.config(dir, "phone-a")
        val (personId, draftId) = DoorstepStore.open(config).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val sent = s.exportChanges().changes.size
            val draft = s.saveAssessmentDraft(id, waterlow(firstHalf))
            assertEquals(14u, draft.score.pointsSoFar)
            assertEquals(7, draft.score.missing.size)
            assertNull(draft.score.total)
            assertEquals(18.9, draft.score.items.first().derived)
            // A draft is never a change to sync.
            assertEquals(sent, s.exportChanges().changes.size)
            id to draft.id
        }
        DoorstepStore.open(config).use { s ->
            val listed = s.assessmentDrafts(personId).single()
            assertEquals(draftId, listed.id)
            val resumed = s.assessmentDraft(draftId)
            assertEquals(firstHalf, resumed.answers)

            val incomplete = assertThrows<DoorstepException.Validation> {
                runBlocking { s.finishAssessmentDraft(draftId) }
            }
            assertTrue(incomplete.message!!.contains("medication"), incomplete.message)

            val full = s.saveAssessmentDraft(personId, waterlow(resumed.answers + secondHalf), draftId)
            assertEquals(28u, full.score.total)
            val recorded = s.finishAssessmentDraft(draftId)
            assertEquals(draftId, recorded.id)
            assertEquals("very_high_risk", recorded.score.band)
            assertTrue(s.assessmentDrafts().isEmpty())

            val stored = s.patient(personId).clinical!!.assessments.single()
            assertEquals(28u, stored.score.total)
            assertEquals("very high risk", stored.score.bandLabel)
            assertTrue(stored.score.action!!.startsWith("Very high risk"), stored.score.action)
            assertEquals("recorded Waterlow 28 (very high risk)", s.history(personId).last().summary)
        }
    }

    @Test
    fun `answers outside the definition are refused naming the item, and MUST scores live`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-b")).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Ann", "Lee"))
            val bad = assertThrows<DoorstepException.Validation> {
                runBlocking {
                    s.saveAssessmentDraft(id, waterlow(listOf(AssessmentAnswer("neurological_deficit", AnswerValue.Points(3u)))))
                }
            }
            assertTrue(bad.message!!.startsWith("neurological_deficit:"), bad.message)
            val unknown = assertThrows<DoorstepException.Validation> {
                runBlocking { s.saveAssessmentDraft(id, waterlow(emptyList()).copy(definitionVersion = 9u)) }
            }
            assertTrue(unknown.message!!.contains("version 9"), unknown.message)
            assertTrue(s.assessmentDrafts().isEmpty())
        }
        val must = scoreAssessment(
            "must",
            1u,
            listOf(
                AssessmentAnswer("bmi", AnswerValue.Measured(listOf(Measurement("height_cm", 165.0), Measurement("weight_kg", 52.0)))),
                AssessmentAnswer(
                    "weight_loss",
                    AnswerValue.Measured(listOf(Measurement("earlier_weight_kg", 58.0), Measurement("current_weight_kg", 52.0))),
                ),
                choice("acute_disease", "no"),
            ),
        )
        assertEquals(3u, must.total)
        assertEquals("high", must.band)
        assertEquals(listOf("must", "waterlow"), assessmentDefinitions().map { it.id })
    }

    private fun wound(woundId: String?, length: Double, width: Double, daysAgo: Long, depth: Double = 3.0) =
        WoundAssessmentInput(
            woundId = woundId,
            site = "left heel",
            size = WoundSize(lengthMm = length, widthMm = width, depthMm = depth),
            tissue = listOf(TissueShare(TissueType.GRANULATING, 60u), TissueShare(TissueType.SLOUGH, 40u)),
            exudate = ExudateLevel.LOW,
            odour = Odour.NONE,
            pain = 2u,
            photoRef = "IMG_0042",
            assessedAtMs = Instant.now().minus(daysAgo, ChronoUnit.DAYS).toEpochMilli(),
        )

    @Test
    fun `a wound is recorded, read back, its area trend follows two visits, and impossible sizes are refused`() = runBlocking {
        DoorstepStore.open(Fixtures.config(dir, "phone-w")).use { s ->
            val id = s.registerPatient(Fixtures.demographics("Edith", "Crawley"))
            val firstInput = wound(null, 50.0, 40.0, daysAgo = 14)
            val first = s.recordWoundAssessment(id, firstInput)
            assertEquals(first.id, first.woundId, "a new wound takes its first assessment's id")
            assertEquals(2000.0, first.areaMm2)
            val one = s.patient(id).clinical!!
            assertEquals(listOf(first), one.woundAssessments)
            val stored = one.woundAssessments.single()
            assertEquals("left heel", stored.site)
            assertEquals(WoundSize(50.0, 40.0, 3.0), stored.size)
            assertEquals(firstInput.tissue, stored.tissue)
            assertEquals(ExudateLevel.LOW, stored.exudate)
            assertEquals("IMG_0042", stored.photoRef)
            assertEquals(firstInput.assessedAtMs, stored.assessedAtMs)
            val alone = one.woundTrends.single()
            assertEquals(AreaTrend.FIRST_MEASUREMENT, alone.trend)
            assertNull(alone.changePercent)

            val second = s.recordWoundAssessment(id, wound(first.woundId, 40.0, 30.0, daysAgo = 0))
            val trend = s.patient(id).clinical!!.woundTrends.single()
            assertEquals(first.woundId, trend.woundId)
            assertEquals(listOf(first.id, second.id), trend.points.map { it.assessmentId })
            assertEquals(listOf(2000.0, 1200.0), trend.points.map { it.areaMm2 })
            assertEquals(-40.0, trend.changePercent)
            assertEquals(AreaTrend.REDUCING, trend.trend)

            val sent = s.exportChanges().changes.size
            fun refused(input: WoundAssessmentInput): String =
                assertThrows<DoorstepException.Validation> { runBlocking { s.recordWoundAssessment(id, input) } }.message!!
            val zero = refused(wound(first.woundId, 0.0, 0.0, daysAgo = 0))
            assertTrue(zero.startsWith("wound length of 0 mm is outside the possible range"), zero)
            val wide = refused(wound(first.woundId, 30.0, 45.0, daysAgo = 0))
            assertTrue(wide.startsWith("wound width: the width (45 mm) is more than the length (30 mm)"), wide)
            val deep = refused(wound(first.woundId, 30.0, 20.0, daysAgo = 0, depth = 400.0))
            assertTrue(deep.startsWith("wound depth of 400 mm is outside the possible range"), deep)
            val fine = refused(wound(first.woundId, 30.25, 20.0, daysAgo = 0))
            assertTrue(fine.startsWith("wound length: 30.25 mm has more than one decimal"), fine)
            assertEquals(2, s.patient(id).clinical!!.woundAssessments.size)
            assertEquals(sent, s.exportChanges().changes.size, "no change was written")
        }
    }

    @Test
    fun `a finished MUST reaches a colleague's phone through the sync server, and a draft never does`() = runBlocking {
        LoopbackServer(dir).use { server ->
            suspend fun phone(user: String): Pair<DoorstepStore, SyncEndpoint> {
                val e = enrol(server.url, server.issueCode(user))
                val store = DoorstepStore.open(Fixtures.config(dir, e.deviceId).copy(user = e.user))
                return store to SyncEndpoint(url = server.url, deviceToken = e.deviceToken)
            }
            val (a, aEnd) = phone("north-nurse1")
            val (b, bEnd) = phone("north-nurse2")
            a.use {
                b.use {
                    val id = a.registerPatient(Fixtures.demographics("Edith", "Crawley", nhs = "9434765919"))
                    val must = AssessmentDraftInput(
                        definitionId = "must",
                        definitionVersion = 1u,
                        answers = listOf(
                            AssessmentAnswer(
                                "bmi",
                                AnswerValue.Measured(listOf(Measurement("height_cm", 165.0), Measurement("weight_kg", 52.0))),
                            ),
                            choice("weight_loss", "loss_5_to_10"),
                            choice("acute_disease", "no"),
                        ),
                    )
                    val draft = a.saveAssessmentDraft(id, must)
                    a.saveAssessmentDraft(id, waterlow(firstHalf))
                    val recorded = a.finishAssessmentDraft(draft.id)
                    assertEquals(2u, recorded.score.total)
                    a.sync(aEnd)
                    assertTrue(a.pendingChanges().isEmpty(), "the server accepted (and re-scored) the assessment")
                    assertTrue(a.native.quarantine().isEmpty())

                    b.sync(bEnd)
                    val theirs = b.patient(id).clinical!!.assessments.single()
                    assertEquals(recorded.id, theirs.id)
                    assertEquals(2u, theirs.score.total)
                    assertEquals("high", theirs.score.band)
                    assertTrue(b.assessmentDrafts().isEmpty(), "drafts stay on the phone that made them")
                    assertEquals(1, a.assessmentDrafts(id).size)
                }
            }
        }
    }
}
