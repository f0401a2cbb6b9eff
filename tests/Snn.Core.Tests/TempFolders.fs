/// Fresh temporary folders for tests that write files (checkpoints, temporary-file cleanup).
module Snn.Core.Tests.TempFolders

open System
open System.IO

/// A fresh folder under the system temp folder, deleted with everything in it on Dispose.
type TempFolder() =
    let path =
        Path.Combine(Path.GetTempPath(), "snn-core-tests", Guid.NewGuid().ToString("N"))

    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)

    interface IDisposable with
        member _.Dispose() =
            try
                Directory.Delete(path, true)
            with _ ->
                ()
