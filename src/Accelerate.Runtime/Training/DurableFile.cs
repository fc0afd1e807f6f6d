using System.Runtime.InteropServices;
using System.Text;

namespace Accelerate;

/// <summary>
/// Writes that survive a crash or power loss once they return: every file is flushed to the disk
/// (fsync), and so is the folder after an entry in it was created, renamed or removed — without
/// that, a rename can be lost even though the file's bytes are on the disk.
/// </summary>
internal static class DurableFile
{
    /// <summary>Creates (or overwrites) <paramref name="path"/> with what <paramref name="write"/> writes, and flushes it to the disk.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None))
            write(stream);
        // Through a second handle: the writer may have closed the stream (a BinaryWriter in a using does).
        using var sync = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
        sync.Flush(flushToDisk: true);
    }

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text));

    /// <summary>Renames a folder and makes the rename durable.</summary>
    public static void MoveDirectory(string from, string to)
    {
        Directory.Move(from, to);
        SyncDirectory(Path.GetDirectoryName(to)!);
    }

    /// <summary>Flushes a folder's entries (files created, renamed or deleted in it) to the disk.</summary>
    public static void SyncDirectory(string directory)
    {
        // Windows has no fsync for folders; NTFS journals its metadata.
        if (OperatingSystem.IsWindows()) return;
        var descriptor = open(directory, 0 /* O_RDONLY */);
        if (descriptor < 0) throw new IOException($"Cannot open {directory} to flush it to the disk (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (fsync(descriptor) != 0) throw new IOException($"Flushing {directory} to the disk failed (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally
        {
            close(descriptor);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int descriptor);

    [DllImport("libc")]
    private static extern int close(int descriptor);
}
