/// Checks that bad input fails the way Guard promises: an ArgumentException naming the parameter, the value
/// and the valid range.
module Snn.Core.Tests.ArgumentChecks

open System
open Expecto

/// Expects f to throw an ArgumentException for parameter paramName whose message contains every fragment
/// (the value and the valid range).
let argumentError (paramName: string) (fragments: string list) (f: unit -> unit) =
    let error =
        try
            f ()
            None
        with :? ArgumentException as e ->
            Some e

    match error with
    | None -> failtest $"expected an ArgumentException for {paramName}, but nothing was thrown"
    | Some e ->
        Expect.equal e.ParamName paramName "the exception names the parameter"

        for fragment in fragments do
            Expect.stringContains e.Message fragment $"the message states '{fragment}'"
