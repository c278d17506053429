package org.doorstep

import java.io.BufferedReader
import java.io.InputStreamReader
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/**
 * A real `doorstep serve` on loopback with its own data folder, for the sync tests: one team
 * ("north") with two nurses. The binary is the host build from this repository
 * (`cargo build -p doorstep-cli`; scripts/test.sh builds it), passed as `-Ddoorstep.cli=`.
 */
class LoopbackServer(dir: Path) : AutoCloseable {
    private val bin: String = System.getProperty("doorstep.cli")
        ?: error("set -Ddoorstep.cli=<path to the doorstep binary> (scripts/test.sh does)")
    private val data: Path = Files.createDirectories(dir.resolve("server"))
    private val process: Process
    val url: String

    init {
        check(Files.isExecutable(Path.of(bin))) { "$bin is not built: run cargo build -p doorstep-cli" }
        admin("create-team", "north", "Team north")
        admin("create-user", "north-nurse1", "--name", "Nurse One", "--role", "district-nurse", "--team", "north")
        admin("create-user", "north-nurse2", "--name", "Nurse Two", "--role", "district-nurse", "--team", "north")
        process = ProcessBuilder(bin, "serve", "--data-dir", data.toString(), "--listen", "127.0.0.1:0")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val banner = BufferedReader(InputStreamReader(process.inputStream)).readLine()
            ?: error("doorstep serve exited before printing its address")
        url = banner.split(" ").firstOrNull { it.startsWith("http://") }
            ?: error("doorstep serve did not print its address: $banner")
    }

    /** `doorstep admin ...`; returns its output (e.g. an enrolment code). */
    fun admin(vararg args: String): String {
        val p = ProcessBuilder(listOf(bin, "admin", "--data-dir", data.toString()) + args)
            .redirectErrorStream(true)
            .start()
        val out = p.inputStream.bufferedReader().readText().trim()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) { "doorstep admin ${args.toList()} failed: $out" }
        return out
    }

    fun issueCode(user: String): String = admin("issue-code", user)

    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}
