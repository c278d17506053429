import Doorstep
import Foundation
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A real `doorstep serve` on loopback with its own data folder, for the sync tests: one team
/// ("north") with two nurses. The binary is the host build from this repository
/// (`cargo build -p doorstep-cli`), named by DOORSTEP_CLI (scripts/test.sh sets it).
final class LoopbackServer {
    let bin: String
    let data: URL
    let process = Process()
    let url: String

    init(dir: URL) throws {
        guard let bin = ProcessInfo.processInfo.environment["DOORSTEP_CLI"] else {
            throw Failure("set DOORSTEP_CLI to the doorstep binary (scripts/test.sh does)")
        }
        self.bin = bin
        data = dir.appendingPathComponent("server")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for args in [
            ["create-team", "north", "Team north"],
            ["create-user", "north-nurse1", "--name", "Nurse One", "--role", "district-nurse", "--team", "north"],
            ["create-user", "north-nurse2", "--name", "Nurse Two", "--role", "district-nurse", "--team", "north"],
        ] {
            _ = try Self.admin(bin, data, args)
        }
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = ["serve", "--data-dir", data.path, "--listen", "127.0.0.1:0"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line is "doorstep sync server listening on http://127.0.0.1:PORT (...)".
        var banner = Data()
        while !banner.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            banner.append(chunk)
        }
        let line = String(decoding: banner, as: UTF8.self)
        guard let u = line.split(separator: " ").first(where: { $0.hasPrefix("http://") }) else {
            throw Failure("doorstep serve did not print its address: \(line)")
        }
        url = String(u)
    }

    static func admin(_ bin: String, _ data: URL, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["admin", "--data-dir", data.path] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure("doorstep admin \(args) failed: \(text)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func issueCode(_ user: String) throws -> String { try Self.admin(bin, data, ["issue-code", user]) }

    /// A phone enrolled as `user` (one of the team's nurses) with its own store in `dir`, and the
    /// endpoint it syncs with.
    func phone(_ dir: URL, _ user: String) async throws -> (DoorstepStore, SyncEndpoint) {
        let e = try await enrolDevice(url: url, code: try issueCode(user))
        let c = Fixtures.config(dir, e.deviceId)
        let store = try await DoorstepStore.open(StoreConfig(path: c.path, key: c.key, deviceId: e.deviceId, user: e.user))
        return (store, SyncEndpoint(url: url, deviceToken: e.deviceToken))
    }

    /// SIGKILL, as the Rust and Kotlin harnesses do: `doorstep serve` shuts down gracefully on
    /// a signal and would wait for the clients' idle keep-alive connections.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
