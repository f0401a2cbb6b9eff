/// Checks that repeated work leaves no TorchSharp tensor alive (dispose scopes hold).
module Snn.Core.Tests.LeakChecks

open System
open Expecto
open TorchSharp

/// Runs `work` 3 times to warm up, then 30 times, and expects the live tensor count to be exactly
/// what it was after the warm-up (collecting first, so finalisers of tensors dropped elsewhere cannot
/// change the count during the measurement).
let expectStableTensorCount (message: string) (work: unit -> unit) =
    for _ in 1..3 do
        work ()

    GC.Collect()
    GC.WaitForPendingFinalizers()
    let before = torch.Tensor.TotalCount

    for _ in 1..30 do
        work ()

    GC.Collect()
    GC.WaitForPendingFinalizers()
    Expect.equal torch.Tensor.TotalCount before message
