using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Snn.Core.Checkpoints;

/// <summary>
/// Atomic file replacement: the content is written to <c>&lt;file&gt;.&lt;pid&gt;.tmp</c> in the same folder
/// (pid: the writing process), flushed to disk, then renamed over the target, so a reader sees either the
/// old file or the new one, never a torn one. A failed write (an exception, e.g. a full disk) removes its
/// temporary file; a killed process leaves it behind, and <see cref="RemoveStaleTemporaryFiles"/> removes
/// such leftovers of processes that no longer run.
/// </summary>
public static partial class AtomicFile
{
    /// <summary>The temporary file this process uses for <paramref name="path"/>: <c>&lt;full path&gt;.&lt;pid&gt;.tmp</c>.</summary>
    /// <param name="path">The target file.</param>
    public static string TemporaryPath(string path) => Path.GetFullPath(path) + $".{Environment.ProcessId}.tmp";

    /// <summary>
    /// Writes <paramref name="path"/> atomically: <paramref name="write"/> fills the temporary file's stream,
    /// which is then flushed to disk and renamed over the target. On any exception the temporary file is
    /// deleted and the exception propagates; the target is then unchanged.
    /// </summary>
    /// <param name="path">The target file; its folder is created when missing.</param>
    /// <param name="write">Writes the whole content to the given stream (seekable; do not dispose it).</param>
    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = TemporaryPath(full);
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The target file; its folder is created when missing.</param>
    /// <param name="text">The whole content.</param>
    public static void WriteAllText(string path, string text)
    {
        var bytes = new UTF8Encoding(false).GetBytes(text);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>
    /// Deletes the temporary files <c>*.&lt;pid&gt;.tmp</c> under <paramref name="folder"/> whose writing
    /// process is gone: no process with that pid runs, or the one that does started after the file was last
    /// written (the pid was reused). Files of this process and of running writers are kept. Call it when a
    /// run starts, after taking the run folder's lock.
    /// </summary>
    /// <param name="folder">The folder to clean; nothing happens when it does not exist.</param>
    /// <param name="recursive">Whether subfolders are cleaned too (default true).</param>
    /// <returns>The full paths of the files deleted, for the run log.</returns>
    public static IReadOnlyList<string> RemoveStaleTemporaryFiles(string folder, bool recursive = true)
    {
        var removed = new List<string>();
        if (!Directory.Exists(folder))
        {
            return removed;
        }

        var option = recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly;
        foreach (var file in Directory.EnumerateFiles(folder, "*.tmp", option))
        {
            var match = TemporaryName().Match(Path.GetFileName(file));
            if (!match.Success || !int.TryParse(match.Groups[1].Value, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            if (!WriterAlive(pid, File.GetLastWriteTimeUtc(file)) && TryDelete(file))
            {
                removed.Add(Path.GetFullPath(file));
            }
        }

        return removed;
    }

    /// <summary>Whether process <paramref name="pid"/> runs and started no later than <paramref name="lastWrite"/>.</summary>
    internal static bool WriterAlive(int pid, DateTime lastWrite)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited)
            {
                return false;
            }

            // Start times are read from /proc with clock-tick resolution; allow a second of slack.
            return process.StartTime.ToUniversalTime() <= lastWrite.AddSeconds(1);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static bool TryDelete(string file)
    {
        try
        {
            File.Delete(file);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"\.(\d+)\.tmp$")]
    private static partial Regex TemporaryName();
}
