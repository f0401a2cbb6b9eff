module Snn.Cli.Tests.ErrorBoundaryTests

open System
open System.IO
open System.Runtime.InteropServices
open Expecto
open TorchSharp
open Snn.Core.Data
open Snn.Cli
open Snn.Cli.ErrorBoundary
open Snn.Cli.Tests.Common

/// Stands for Snn.Dsl.Pipeline.RunFolderLockedException (recognised by its type name).
type RunFolderLockedException(message: string) =
    inherit IOException(message)

/// A subclass is recognised as well.
type StaleRunFolderLockedException(message: string) =
    inherit RunFolderLockedException(message)

/// An exception as thrown (with a stack trace).
let private thrown (e: exn) =
    try
        raise e
    with e ->
        e

let private outcome e = describeAt false false (thrown e)

let private expectCode code (e: exn) =
    let o = outcome e
    Expect.equal o.ExitCode code $"exit code of {e.GetType().Name}"
    Expect.isFalse o.ToStdout "a failure goes to stderr"
    Expect.stringStarts o.Message "snn: " "one snn: message"
    Expect.isFalse (hasStackTrace (o.Detail + o.Message)) "no stack trace without --verbose"
    o

/// A real libtorch failure: a view of 4 elements as 2 x 3.
let private libtorchFailure () =
    try
        use t = torch.zeros 4L
        use v = t.view (2L, 3L)
        failtest "libtorch accepted an impossible view"
    with :? ExternalException as e ->
        e

[<Tests>]
let tests =
    testList
        "ErrorBoundary"
        [ testCase "an ArgumentException is a usage error (2) without .NET's (Parameter ...) suffix"
          <| fun () ->
              let o =
                  expectCode
                      ExitCode.Usage
                      (ArgumentException("--repeats = 0 is out of range: expected >= 1", "repeats"))

              Expect.equal o.Message "snn: --repeats = 0 is out of range: expected >= 1" "message"

          testCase "an ArgumentOutOfRangeException is a usage error (2)"
          <| fun () ->
              expectCode ExitCode.Usage (ArgumentOutOfRangeException("epochs", "epochs = 0"))
              |> ignore

          testCase "a DataFileException is a data error (3), although it is an IOException"
          <| fun () ->
              let o =
                  expectCode ExitCode.Data (DataFileException("/d/train-labels-idx1-ubyte", "is truncated"))

              Expect.equal o.Message "snn: /d/train-labels-idx1-ubyte: is truncated" "message names the file"

          testCase "I/O failures and damaged files are input/output errors (4)"
          <| fun () ->
              let failures: exn list =
                  [ IOException("No space left on device : '/runs/x/checkpoints/clip.ckpt'")
                    FileNotFoundException("Could not find file '/x.json'", "/x.json")
                    DirectoryNotFoundException("Could not find a part of the path '/a/b'")
                    UnauthorizedAccessException("Access to the path '/ro/runs' is denied.")
                    InvalidDataException("/runs/x/stages/clip.json: truncated") ]

              for e in failures do
                  let o = expectCode ExitCode.InputOutput e
                  Expect.stringContains o.Message e.Message "the system's message, naming the path"

          testCase "a RunFolderLockedException (by type name, subclasses too) is code 5, not a plain I/O error"
          <| fun () ->
              expectCode ExitCode.RunFolderLocked (RunFolderLockedException "runs/quick is in use by pid 42")
              |> ignore

              expectCode ExitCode.RunFolderLocked (StaleRunFolderLockedException "runs/quick is in use")
              |> ignore

          testCase "OperationCanceledException is an interruption (130) only after Ctrl-C"
          <| fun () ->
              let e = thrown (OperationCanceledException())
              Expect.equal (describeAt true false e).ExitCode ExitCode.Interrupted "after Ctrl-C"
              Expect.equal (describeAt true false e).Message "snn: interrupted" "message"
              Expect.equal (describeAt false false e).ExitCode ExitCode.Internal "without Ctrl-C: a bug"

          testCase "an unexpected exception is an internal error (1) with a hint to rerun with --verbose"
          <| fun () ->
              let o =
                  expectCode ExitCode.Internal (NullReferenceException "Object reference not set")

              Expect.equal
                  o.Message
                  "snn: internal error: Object reference not set (run with --verbose for the stack trace)"
                  "message"

          testCase "a libtorch error is an internal error with libtorch's message and without its C++ backtrace"
          <| fun () ->
              let e = libtorchFailure ()
              Expect.stringContains e.Message "frame #" "libtorch's message has a C++ backtrace to remove"
              let o = expectCode ExitCode.Internal e
              Expect.stringStarts o.Message "snn: internal error: libtorch: " "names libtorch"
              Expect.stringContains o.Message "is invalid for input of size 4" "libtorch's own words"
              Expect.isFalse (o.Message.Contains "frame #") "no C++ frames"
              Expect.isFalse (o.Message.Contains "Exception raised from") "no C++ location"

          testCase "with --verbose the stack trace is printed before the message and the hint is dropped"
          <| fun () ->
              let o = describeAt false true (thrown (InvalidOperationException "boom"))
              Expect.isTrue (hasStackTrace o.Detail) "stack trace"
              Expect.equal o.Message "snn: internal error: boom" "message last"

              let o = describeAt false true (thrown (ArgumentException "bad"))
              Expect.isTrue (hasStackTrace o.Detail) "also for user errors"
              Expect.equal o.ExitCode ExitCode.Usage "same code"

          testCase "withStep names the steps a failure passed through, outermost first, and keeps its kind"
          <| fun () ->
              let e =
                  try
                      withStep "bench --only sim" (fun () ->
                          withStep "reading the dataset" (fun () -> raise (DataFileException("/d/x", "not found"))))
                  with e ->
                      e

              let o = describeAt false false e
              Expect.equal o.ExitCode ExitCode.Data "still a data error"
              Expect.equal o.Message "snn: bench --only sim: reading the dataset: /d/x: not found" "steps named"

          testCase "wrappers are looked through: a one-element AggregateException, a type initialiser"
          <| fun () ->
              let inner = thrown (DataFileException("/d/x", "bad"))
              Expect.equal (outcome (AggregateException [ inner ])).ExitCode ExitCode.Data "aggregate"

              Expect.equal
                  (outcome (TypeInitializationException("Snn.X", thrown (ArgumentException "bad")))).ExitCode
                  ExitCode.Usage
                  "type initialiser"

          testCase "a failure already reported (a bench child) ends with its own code"
          <| fun () ->
              let o =
                  expectCode
                      ExitCode.Data
                      (ReportedFailureException("snn bench --only sim failed with exit code 3", ExitCode.Data))

              Expect.equal o.Message "snn: snn bench --only sim failed with exit code 3" "message"

          testCase "run returns the command's code, or prints the failure and returns its code"
          <| fun () ->
              Expect.equal (run false (fun () -> 0)) 0 "success"
              Expect.equal (run false (fun () -> raise (ArgumentException "bad"))) ExitCode.Usage "failure"

          testCase "verboseRequested: --verbose anywhere on the command line"
          <| fun () ->
              Expect.isTrue (verboseRequested [| "data"; "--verbose" |]) "after the subcommand"
              Expect.isTrue (verboseRequested [| "--verbose"; "data" |]) "before"

              if Environment.GetEnvironmentVariable "SNN_DEBUG" <> "1" then
                  Expect.isFalse (verboseRequested [| "data" |]) "absent" ]
