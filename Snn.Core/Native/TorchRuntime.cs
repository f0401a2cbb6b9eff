using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Snn.Core.Native;

/// <summary>
/// Makes TorchSharp's native glue loadable on systems whose libstdc++ is older than the one it
/// was built against. TorchSharp 0.107's <c>libLibTorchSharp.so</c> declares a need for
/// <c>GLIBCXX_3.4.32</c> (GCC 13) only for the symbol <c>std::ios_base_library_init()</c>, which
/// it references but never calls (no relocation uses it). Debian 12 ships GCC 12's libstdc++
/// (up to <c>GLIBCXX_3.4.30</c>), so the dynamic loader refuses the library.
/// The fix marks that version need weak (<c>VER_FLG_WEAK</c> in <c>.gnu.version_r</c>) and clears
/// the symbol's version in <c>.gnu.version</c>, in place, in the application's own copy of the
/// library (never in the NuGet package cache). It is applied only where the system libstdc++
/// lacks the version, is idempotent, and says what it did in one line on standard error.
/// </summary>
public static class TorchRuntime
{
    /// <summary>The libstdc++ symbol version TorchSharp's glue asks for.</summary>
    public const string RequiredVersion = "GLIBCXX_3.4.32";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtGnuVersym = 0x6fffffff;
    private const ushort VerFlgWeak = 0x2;
    private const ushort VerNdxGlobal = 1;

    private static readonly object Gate = new();
    private static bool _done;

    /// <summary>
    /// Runs <see cref="EnsureNativeCompatibility"/> and <see cref="NativeAllocator.Configure"/> when
    /// Snn.Core is first loaded.
    /// </summary>
#pragma warning disable CA2255 // a library initializer is the point: it must run before TorchSharp loads
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        EnsureNativeCompatibility();
        NativeAllocator.Configure();
    }

    /// <summary>
    /// Patches every copy of <c>libLibTorchSharp.so</c> next to the running application and next
    /// to TorchSharp.dll, when (and only when) the system libstdc++ lacks
    /// <see cref="RequiredVersion"/>, then loads TorchSharp's native libraries by absolute path
    /// (<see cref="TorchNativeLibraries.Preload"/>). Safe to call many times and from several
    /// processes: the patched file replaces the old one by an atomic rename. Patches nothing on
    /// other operating systems, or when no copy is found. Then makes the process-wide libtorch settings
    /// of <see cref="LibTorchSettings.Apply"/> (zero-filled allocations, NNPACK off). A program that uses
    /// TorchSharp before touching Snn.Core calls this first.
    /// </summary>
    public static void EnsureNativeCompatibility()
    {
        PatchApplicationCopies();
        TorchNativeLibraries.Preload();
        LibTorchSettings.Apply();
    }

    private static void PatchApplicationCopies()
    {
        lock (Gate)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            if (!OperatingSystem.IsLinux() || SystemLibStdCxxHas(RequiredVersion) != false)
            {
                return;
            }

            foreach (var path in CandidateCopies())
            {
                try
                {
                    if (PatchFile(path))
                    {
                        Console.Error.WriteLine(
                            $"snn: system libstdc++ lacks {RequiredVersion}; marked it weak in {path} (see README, Troubleshooting)");
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"snn: could not patch {path} for the old libstdc++: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// Whether the libstdc++ that the dynamic loader would use defines <paramref name="version"/>:
    /// true or false when a libstdc++.so.6 is found in the standard library folders or
    /// LD_LIBRARY_PATH, null when none is found.
    /// </summary>
    /// <param name="version">A symbol version name such as <c>GLIBCXX_3.4.32</c>; not empty.</param>
    public static bool? SystemLibStdCxxHas(string version)
    {
        ArgumentException.ThrowIfNullOrEmpty(version);
        var dirs = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
                "/usr/lib/aarch64-linux-gnu"]);
        foreach (var dir in dirs)
        {
            var file = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(file))
            {
                var needle = Encoding.ASCII.GetBytes(version + "\0");
                return File.ReadAllBytes(file).AsSpan().IndexOf(needle) >= 0;
            }
        }

        return null;
    }

    private static IEnumerable<string> CandidateCopies()
    {
        var dirs = new List<string> { AppContext.BaseDirectory };
        var torchDll = AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => a.GetName().Name == "TorchSharp")?.Location;
        if (string.IsNullOrEmpty(torchDll))
        {
            torchDll = typeof(TorchRuntime).Assembly.Location;
        }

        if (!string.IsNullOrEmpty(torchDll))
        {
            dirs.Add(Path.GetDirectoryName(torchDll)!);
        }

        var packageCache = Path.GetFullPath(Path.Combine(
            Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        return dirs
            .SelectMany(d => new[] { d, Path.Combine(d, "runtimes", "linux-x64", "native") })
            .Select(d => Path.GetFullPath(Path.Combine(d, "libLibTorchSharp.so")))
            .Distinct()
            .Where(File.Exists)
            .Where(p => !p.StartsWith(packageCache, StringComparison.Ordinal));
    }

    /// <summary>
    /// Marks the need for <see cref="RequiredVersion"/> weak and clears the version of every
    /// dynamic symbol bound to it, in the ELF64 little-endian shared object at
    /// <paramref name="path"/>. Returns true when the file was changed, false when it was already
    /// patched or never needed the version.
    /// </summary>
    /// <param name="path">Path of an ELF64 little-endian shared object.</param>
    /// <exception cref="InvalidDataException">The file is not an ELF64 little-endian object.</exception>
    public static bool PatchFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (!PatchImage(bytes, RequiredVersion))
        {
            return false;
        }

        var tmp = path + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
        return true;
    }

    /// <summary>
    /// In-memory form of <see cref="PatchFile"/>: edits <paramref name="image"/> in place and
    /// returns true when anything changed.
    /// </summary>
    /// <param name="image">The bytes of an ELF64 little-endian shared object.</param>
    /// <param name="version">The version need to weaken, e.g. <c>GLIBCXX_3.4.32</c>.</param>
    /// <exception cref="InvalidDataException">The bytes are not an ELF64 little-endian object.</exception>
    public static bool PatchImage(byte[] image, string version)
    {
        var span = image.AsSpan();
        if (span.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
        {
            throw new InvalidDataException("not an ELF file (magic 0x7f 'ELF' expected)");
        }

        if (span[4] != 2 || span[5] != 1)
        {
            throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        }

        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        (long Offset, long Size, int Link, uint Type) Section(int i)
        {
            var h = image.AsSpan().Slice((int)(shoff + (long)i * shentsize), shentsize);
            return ((long)BinaryPrimitives.ReadUInt64LittleEndian(h[0x18..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(h[0x20..]),
                (int)BinaryPrimitives.ReadUInt32LittleEndian(h[0x28..]),
                BinaryPrimitives.ReadUInt32LittleEndian(h[0x04..]));
        }

        var sections = Enumerable.Range(0, shnum).Select(Section).ToArray();
        var verneed = Array.FindIndex(sections, s => s.Type == ShtGnuVerneed);
        var versym = Array.FindIndex(sections, s => s.Type == ShtGnuVersym);
        if (verneed < 0 || versym < 0)
        {
            return false;
        }

        var strtab = sections[sections[verneed].Link].Offset;
        string Str(uint offset)
        {
            var start = (int)(strtab + offset);
            var end = image.AsSpan(start).IndexOf((byte)0);
            return Encoding.ASCII.GetString(image, start, end);
        }

        var changed = false;
        var index = -1;
        var need = (int)sections[verneed].Offset;
        while (true)
        {
            int cnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(need + 2)..]);
            var aux = need + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(need + 8)..]);
            for (var k = 0; k < cnt; k++)
            {
                if (Str(BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 8)..])) == version)
                {
                    var flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(aux + 4)..]);
                    index = BinaryPrimitives.ReadUInt16LittleEndian(span[(aux + 6)..]);
                    if ((flags & VerFlgWeak) == 0)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(span[(aux + 4)..], (ushort)(flags | VerFlgWeak));
                        changed = true;
                    }
                }

                aux += (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 12)..]);
            }

            var next = BinaryPrimitives.ReadUInt32LittleEndian(span[(need + 12)..]);
            if (next == 0)
            {
                break;
            }

            need += (int)next;
        }

        if (index < 0)
        {
            return changed;
        }

        var vs = sections[versym];
        for (var off = vs.Offset; off + 2 <= vs.Offset + vs.Size; off += 2)
        {
            var v = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)off..]);
            if ((v & 0x7fff) == index)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(span[(int)off..], VerNdxGlobal);
                changed = true;
            }
        }

        return changed;
    }
}
