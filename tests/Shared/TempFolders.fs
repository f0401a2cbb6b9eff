/// Temporary folders of the test processes: each made under the temp path with a fresh name and
/// deleted when the process exits, so that shared fixtures can live as long as the process and
/// nothing is left behind. Linked into every test project.
module Snn.Tests.TempFolders

open System
open System.IO

let private made = Collections.Concurrent.ConcurrentBag<string>()

let private deleteAtExit =
    lazy
        (AppDomain.CurrentDomain.ProcessExit.Add(fun _ ->
            for folder in made do
                try
                    Directory.Delete(folder, true)
                with _ ->
                    ()))

/// A new folder `<temp>/<parent>/<prefix>-<guid>` (parent may be empty), deleted at process exit.
let create (parent: string) (prefix: string) =
    let path =
        Path.Combine(Path.GetTempPath(), parent, $"%s{prefix}-{Guid.NewGuid():N}")

    Directory.CreateDirectory path |> ignore
    deleteAtExit.Force()
    made.Add path
    path

/// Copies the folder `source` with everything under it to `target` (run folders to change in a test).
let rec copyTree (source: string) (target: string) =
    Directory.CreateDirectory target |> ignore

    for f in Directory.GetFiles source do
        File.Copy(f, Path.Combine(target, Path.GetFileName f))

    for d in Directory.GetDirectories source do
        copyTree d (Path.Combine(target, Path.GetFileName d))
