module Snn.Cli.Tests.InterruptTests

open System
open Expecto
open Snn.Cli.Interrupt
open Snn.Dsl.Pipeline

/// A sink that records what reached it.
type private Recorder() =
    let lines = ResizeArray<string>()
    member _.Lines = List.ofSeq lines

    interface IProgressSink with
        member _.Log m = lines.Add $"log {m}"

        member _.Start(name, total) =
            lines.Add $"start {name} {total}"

            { new IProgressTask with
                member _.Advance(steps, _) = lines.Add $"advance {steps}"
                member _.Finish() = lines.Add "finish" }

[<Tests>]
let tests =
    testList
        "Interrupt"
        [ testCase "a guarded sink passes everything through while no stop is requested"
          <| fun () ->
              let i = Interruption()
              let inner = Recorder()
              let sink = i.Guard inner
              sink.Log "hello"
              let task = sink.Start("epoch", 3)
              task.Advance(2, "")
              task.Finish()
              Expect.isFalse i.Requested "not requested"
              Expect.equal inner.Lines [ "log hello"; "start epoch 3"; "advance 2"; "finish" ] "passed through"

          testCase "after a stop request the next advance throws OperationCanceledException and finally blocks run"
          <| fun () ->
              let i = Interruption()
              let inner = Recorder()
              let sink = i.Guard inner
              let task = sink.Start("epoch", 10)
              let mutable cleanedUp = false
              let mutable advanced = 0

              let loop () =
                  try
                      for k in 1..10 do
                          if k = 4 then
                              i.Request()

                          task.Advance(1, "")
                          advanced <- advanced + 1
                  finally
                      cleanedUp <- true

              Expect.throwsT<OperationCanceledException> loop "stopped at the safe point"
              Expect.isTrue cleanedUp "the finally block ran"
              Expect.equal advanced 3 "stopped at the advance after the request, not before"
              Expect.isTrue i.Requested "requested"

          testCase "after a stop request a new task is refused at its start"
          <| fun () ->
              let i = Interruption()
              i.Request()
              let inner = Recorder()

              Expect.throwsT<OperationCanceledException>
                  (fun () -> (i.Guard inner).Start("epoch", 1) |> ignore)
                  "no new task"

              Expect.isEmpty inner.Lines "nothing started"

          testCase "Check throws only once a stop is requested"
          <| fun () ->
              let i = Interruption()
              i.Check()
              i.Request()
              Expect.throwsT<OperationCanceledException> i.Check "requested"
              Expect.isTrue i.Token.IsCancellationRequested "token cancelled" ]
