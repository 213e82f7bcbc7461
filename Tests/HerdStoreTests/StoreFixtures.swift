import Foundation
import HerdStore
import Logging

/// The backends every conformance test runs against.
enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case sqlite

    var description: String { rawValue }

    /// Runs `body` on a fresh store and closes it; the SQLite file lives in a temp directory removed after.
    func withStore<T>(watchBufferLimit: Int = 10_000,
                      _ body: (any Store) async throws -> T) async throws -> T {
        try await withTemporaryDirectory { directory in
            try await run(open(in: directory, watchBufferLimit: watchBufferLimit), body)
        }
    }

    /// A new store; the SQLite backend keeps its file in `directory`.
    func open(in directory: URL, watchBufferLimit: Int = 10_000) throws -> any Store {
        switch self {
        case .memory:
            return MemoryStore(watchBufferLimit: watchBufferLimit)
        case .sqlite:
            return try SQLiteStore(path: directory.appendingPathComponent("store.db").path,
                                   logger: Logger(label: "herd.store.test"), watchBufferLimit: watchBufferLimit)
        }
    }

    private func run<T>(_ store: any Store, _ body: (any Store) async throws -> T) async throws -> T {
        do {
            let result = try await body(store)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }
}

func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("herd-store-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ value: [UInt8]?) -> String? { value.map { String(decoding: $0, as: UTF8.self) } }

/// The first `count` events of a watch.
func collect(_ stream: AsyncThrowingStream<StoreEvent, Error>, count: Int) async throws -> [StoreEvent] {
    var events: [StoreEvent] = []
    guard count > 0 else { return events }
    for try await event in stream {
        events.append(event)
        if events.count == count { break }
    }
    return events
}

/// The error `body` throws, or nil.
func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return .backend("unexpected error \(error)")
    }
}
