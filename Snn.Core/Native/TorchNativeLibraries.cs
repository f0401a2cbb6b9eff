using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Snn.Core.Native;

/// <summary>
/// Loads TorchSharp's native libraries by absolute path before TorchSharp looks for them by name, so
/// that a process gets the libtorch this TorchSharp was built for whatever else the machine holds.
/// <para>
/// Why: TorchSharp first asks the dynamic loader for <c>libtorch_cpu.so</c> and <c>libLibTorchSharp.so</c>
/// by name. An application finds its own copies through its deps.json, but F# Interactive and .NET
/// Interactive (<c>#r "nuget: ..."</c>) load TorchSharp.dll from the NuGet package folder, where no
/// deps.json points at the native files: the loader then takes any system libtorch first (Debian's
/// libtorch-dev, installed with python3-torch, puts an older one in /usr/lib), and TorchSharp's
/// fallback copies the package files into a <c>cpu/</c> folder that never gets the libstdc++ fix of
/// <see cref="TorchRuntime"/>. The dynamic loader answers a request by name with a library already
/// loaded under that SONAME, so loading these files first by absolute path settles every later lookup.
/// </para>
/// <para>
/// Where the files are (<see cref="Locate"/>): an application's output folder
/// (<c>runtimes/linux-x64/native</c> beside TorchSharp.dll, patched in place by
/// <see cref="TorchRuntime.EnsureNativeCompatibility"/>), or the NuGet package folder that holds
/// TorchSharp.dll (<c>torchsharp/VERSION/runtimes/linux-x64/native</c> and
/// <c>libtorch-cpu-linux-x64/LIBTORCH/runtimes/linux-x64/native</c>). The package cache is never
/// modified: where the system libstdc++ needs the fix, a patched copy of the glue is kept under
/// <c>$XDG_CACHE_HOME/snn/native/</c> (default <c>~/.cache</c>), named by its SHA-256.
/// Only on Linux x64; elsewhere, or for another layout (a CUDA build), TorchSharp's own search applies.
/// </para>
/// </summary>
public static class TorchNativeLibraries
{
    /// <summary>libtorch's libraries in load order: each needs only those before it.</summary>
    public static readonly IReadOnlyList<string> LibtorchFiles = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    /// <summary>TorchSharp's native glue, which needs the libtorch libraries.</summary>
    public const string GlueFile = "libLibTorchSharp.so";

    private static readonly object Gate = new();
    private static bool _done;

    /// <summary>Where a process's native TorchSharp files are.</summary>
    /// <param name="LibtorchFolder">The folder holding every file of <see cref="LibtorchFiles"/>.</param>
    /// <param name="Glue">The path of <see cref="GlueFile"/>.</param>
    /// <param name="FromPackageFolder">True when the files are in the NuGet package folder (read-only to us).</param>
    public sealed record Layout(string LibtorchFolder, string Glue, bool FromPackageFolder);

    /// <summary>The files loaded by <see cref="Preload"/> in this process, in load order (empty before, or when it did nothing).</summary>
    public static IReadOnlyList<string> Loaded { get; private set; } = [];

    /// <summary>
    /// Finds the native files for the TorchSharp.dll at <paramref name="torchSharpAssembly"/>: first an
    /// application layout (the files in <c>runtimes/linux-x64/native</c> beside the assembly, or beside it
    /// directly), then a NuGet package layout (<c>ROOT/torchsharp/V/lib/TFM/TorchSharp.dll</c> with the glue
    /// in <c>ROOT/torchsharp/V/runtimes/linux-x64/native</c> and libtorch in
    /// <c>ROOT/libtorch-cpu-linux-x64/L/runtimes/linux-x64/native</c>, L being
    /// <paramref name="libtorchVersion"/> in NuGet's normal form). Returns null when neither is complete.
    /// </summary>
    /// <param name="torchSharpAssembly">Path of TorchSharp.dll; not empty.</param>
    /// <param name="libtorchVersion">The libtorch package version TorchSharp was built for (e.g. 2.10.0.0), or null if unknown.</param>
    public static Layout? Locate(string torchSharpAssembly, string? libtorchVersion)
    {
        ArgumentException.ThrowIfNullOrEmpty(torchSharpAssembly);
        var dir = new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(torchSharpAssembly))!);
        foreach (var folder in new[] { Path.Combine(dir.FullName, "runtimes", "linux-x64", "native"), dir.FullName })
        {
            if (HasLibtorch(folder) && File.Exists(Path.Combine(folder, GlueFile)))
            {
                return new Layout(folder, Path.Combine(folder, GlueFile), false);
            }
        }

        var (lib, version) = (dir.Parent, dir.Parent?.Parent);
        var (id, root) = (version?.Parent, version?.Parent?.Parent);
        if (libtorchVersion is null || lib?.Name != "lib" || root is null
            || !string.Equals(id!.Name, "torchsharp", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var glue = Path.Combine(version!.FullName, "runtimes", "linux-x64", "native", GlueFile);
        var libtorch = Path.Combine(root.FullName, "libtorch-cpu-linux-x64", NuGetVersion(libtorchVersion), "runtimes", "linux-x64", "native");
        return File.Exists(glue) && HasLibtorch(libtorch) ? new Layout(libtorch, glue, true) : null;
    }

    /// <summary>
    /// A NuGet version in the normal form of package folder names: a fourth part that is 0 is dropped
    /// (2.10.0.0 becomes 2.10.0), anything after '+' too.
    /// </summary>
    /// <param name="version">A version of two to four numeric parts, optionally with a suffix; not empty.</param>
    public static string NuGetVersion(string version)
    {
        ArgumentException.ThrowIfNullOrEmpty(version);
        var core = version.Split('+')[0];
        var parts = core.Split('-', 2);
        var numbers = parts[0].Split('.');
        var kept = numbers.Length == 4 && numbers[3] == "0" ? numbers[..3] : numbers;
        return string.Join('.', kept) + (parts.Length > 1 ? "-" + parts[1] : "");
    }

    /// <summary>
    /// Loads libtorch and TorchSharp's glue by absolute path (<see cref="Locate"/> for the running
    /// TorchSharp), once per process. Does nothing off Linux x64, when no layout is found, or when a
    /// TorchSharp glue is already loaded (then it says on standard error if that one is not the expected
    /// file). A file that fails to load is named in one line on standard error, and TorchSharp's own
    /// search then reports the failure when a tensor is first made.
    /// </summary>
    public static void Preload()
    {
        lock (Gate)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            {
                return;
            }

            // typeof does not run TorchSharp's static constructor (which loads the natives itself).
            var torch = typeof(TorchSharp.torch);
            var version = torch.GetField("libtorchPackageVersion", BindingFlags.NonPublic | BindingFlags.Static)?.GetRawConstantValue() as string;
            var layout = string.IsNullOrEmpty(torch.Assembly.Location) ? null : Locate(torch.Assembly.Location, version);
            if (layout is null)
            {
                return;
            }

            var glue = layout.FromPackageFolder && TorchRuntime.SystemLibStdCxxHas(TorchRuntime.RequiredVersion) == false
                ? PatchedCopy(layout.Glue)
                : layout.Glue;
            var files = LibtorchFiles.Select(f => Path.Combine(layout.LibtorchFolder, f)).Append(glue).ToList();
            var present = MappedFiles().Where(f => Path.GetFileName(f) == GlueFile).ToList();
            if (present.Count > 0)
            {
                if (!present.Contains(Path.GetFullPath(glue)))
                {
                    Console.Error.WriteLine($"snn: TorchSharp's native glue was loaded before Snn.Core from {present[0]}, not {glue}");
                }

                return;
            }

            var loaded = new List<string>();
            foreach (var file in files)
            {
                try
                {
                    NativeLibrary.Load(file);
                    loaded.Add(file);
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    Console.Error.WriteLine($"snn: could not load {file}: {e.Message}");
                    break;
                }
            }

            Loaded = loaded;
        }
    }

    private static bool HasLibtorch(string folder) => LibtorchFiles.All(f => File.Exists(Path.Combine(folder, f)));

    /// <summary>The files mapped into this process (from /proc/self/maps), empty where that is unreadable.</summary>
    internal static IEnumerable<string> MappedFiles()
    {
        try
        {
            return File.ReadAllLines("/proc/self/maps")
                .Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..] : "")
                .Where(p => p.Length > 0)
                .Distinct()
                .ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>
    /// A copy of <paramref name="glue"/> with <see cref="TorchRuntime.RequiredVersion"/> marked weak, kept
    /// in the user's cache under its SHA-256 (written once, atomically; a copy whose digest differs is
    /// replaced). Returns <paramref name="glue"/> itself when it needs no patch.
    /// </summary>
    private static string PatchedCopy(string glue)
    {
        var image = File.ReadAllBytes(glue);
        if (!TorchRuntime.PatchImage(image, TorchRuntime.RequiredVersion))
        {
            return glue;
        }

        var digest = Convert.ToHexString(SHA256.HashData(image)).ToLowerInvariant();
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache))
        {
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        }

        var folder = Path.Combine(cache, "snn", "native", digest[..16]);
        var copy = Path.Combine(folder, GlueFile);
        if (File.Exists(copy) && Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(copy))).ToLowerInvariant() == digest)
        {
            return copy;
        }

        try
        {
            Directory.CreateDirectory(folder);
            var tmp = copy + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(tmp, image);
            File.Move(tmp, copy, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"snn: could not write the patched copy of {glue} to {copy}: {e.Message}");
            return glue;
        }

        Console.Error.WriteLine(
            $"snn: system libstdc++ lacks {TorchRuntime.RequiredVersion}; using a copy of {glue} with it marked weak: {copy}");
        return copy;
    }
}
