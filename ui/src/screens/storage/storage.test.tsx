import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { backend, renderIn } from "../../test/helpers";
import { StorageScreen } from "./StorageScreen";
import { applyProvider } from "./ProfileForm";
import { newProfile } from "../../lib/defaults";
import { applyUploadEvent } from "./UploadQueue";
import type { Upload } from "../../bindings/Upload";

describe("Storage", () => {
  it("lists the profiles with their service and bucket", async () => {
    backend();
    renderIn(<StorageScreen />);
    expect(await screen.findByRole("button", { name: /oss-hangzhou.*Alibaba Cloud OSS · my-streams/ })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /r2-archive.*Cloudflare R2 · archive/ })).toBeInTheDocument();
  });

  it("offers each provider's own fields", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: "Add a bucket" }));
    const form = screen.getByRole("form", { name: "New bucket" });
    const region = within(form).getByLabelText("Region");
    expect(region.tagName).toBe("SELECT");
    expect(within(region).getByRole("option", { name: "cn-shanghai" })).toBeInTheDocument();
    expect(within(form).getByText("Tapedeck will connect to https://s3.oss-cn-hangzhou.aliyuncs.com.")).toBeInTheDocument();
    await user.selectOptions(within(form).getByLabelText("Service"), "r2");
    expect(within(form).getByLabelText("Cloudflare account ID")).toBeInTheDocument();
    expect(within(form).queryByLabelText("Region")).toBeNull();
    await user.selectOptions(within(form).getByLabelText("Service"), "custom");
    expect(within(form).getByLabelText("Service address")).toBeInTheDocument();
    expect(within(form).getByRole("checkbox", { name: /path style/ })).toBeChecked();
  });

  it("saves a new profile and shows problems by field", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: "Add a bucket" }));
    const form = screen.getByRole("form", { name: "New bucket" });
    await user.type(within(form).getByLabelText("Name in Tapedeck"), "minio");
    await user.selectOptions(within(form).getByLabelText("Service"), "custom");
    await user.click(within(form).getByRole("button", { name: "Save" }));
    expect(await within(form).findByText("Choose a bucket.")).toBeInTheDocument();
    expect(within(form).getByText("A custom service needs its address, like http://127.0.0.1:9000.")).toBeInTheDocument();
    await user.type(within(form).getByLabelText("Service address"), "http://127.0.0.1:9000");
    await user.type(within(form).getByLabelText("Bucket"), "vods");
    await user.click(within(form).getByRole("button", { name: "Save" }));
    // Streams are live: the recorder did not restart (restarted: false), so say when it will.
    expect(await screen.findByText(/Bucket saved. New uploads go to it once Tapedeck's recorder restarts; it restarts by itself as soon as no stream is live/)).toBeInTheDocument();
    // A new MinIO profile does not keep OSS's cn-hangzhou.
    expect(b.of("storage_save").at(-1)).toMatchObject({ index: null, profile: { name: "minio", provider: "custom", region: "us-east-1", endpoint: "http://127.0.0.1:9000", bucket: "vods", path_style: true } });
    // Now the saved profile: keys and the connection test appear.
    expect(await screen.findByRole("button", { name: "Test connection" })).toBeInTheDocument();
  });

  it("says the recorder restarted to use a new bucket when it did", async () => {
    backend({ streams: 0 });
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /oss-hangzhou/ }));
    const form = screen.getByRole("form", { name: "Bucket oss-hangzhou" });
    await user.click(within(form).getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Bucket saved. Tapedeck's recorder restarted to use it: new recordings upload to it.")).toBeInTheDocument();
  });

  it("does not carry a region over to a service that lacks it", () => {
    const oss = newProfile("oss");
    expect(oss.region).toBe("cn-hangzhou");
    expect(applyProvider(oss, "custom").region).toBe("us-east-1");
    expect(applyProvider(oss, "aws").region).toBe("us-east-1");
    expect(applyProvider(oss, "r2").region).toBe("auto");
    expect(applyProvider({ ...oss, region: "cn-shanghai" }, "custom").region).toBe("us-east-1");
    // A region Amazon has too stays for Amazon; R2's auto does not.
    expect(applyProvider({ ...oss, region: "eu-central-1" }, "aws").region).toBe("eu-central-1");
    expect(applyProvider(newProfile("r2"), "custom").region).toBe("us-east-1");
    expect(applyProvider({ ...newProfile("aws"), region: "eu-west-1" }, "oss").region).toBe("eu-west-1");
    expect(applyProvider({ ...newProfile("custom"), region: "minio-home" }, "aws").region).toBe("minio-home");
  });

  it("sends keys to the keychain once and never shows them back", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /r2-archive/ }));
    expect(await screen.findByText("No keys saved yet: uploads to this bucket cannot start.")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Access key ID"), "AKID");
    const secret = screen.getByLabelText("Secret access key");
    expect(secret).toHaveAttribute("type", "password");
    await user.type(secret, "SECRET");
    await user.click(screen.getByRole("button", { name: "Save keys" }));
    expect(b.of("storage_set_keys")).toEqual([{ name: "r2-archive", accessKeyId: "AKID", secretAccessKey: "SECRET" }]);
    expect(await screen.findByText("Keys saved in your system keychain.")).toBeInTheDocument();
    expect(secret).toHaveValue("");
    expect(screen.queryByDisplayValue("SECRET")).toBeNull();
    expect(b.of("storage_has_keys").at(-1)).toEqual({ name: "r2-archive" });
  });

  it("tests the connection and shows each step's sentence", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /oss-hangzhou/ }));
    await user.click(await screen.findByRole("button", { name: "Test connection" }));
    expect(await screen.findByText("Signed in at https://s3.oss-cn-hangzhou.aliyuncs.com: the keys can see 3 buckets.")).toBeInTheDocument();
    expect(screen.getByText("The bucket my-streams exists and Tapedeck may use it.")).toBeInTheDocument();
    expect(screen.getByText("Tapedeck wrote a test file and read it back.")).toBeInTheDocument();
    expect(screen.getByText("Ready: recordings will upload to this bucket.")).toBeInTheDocument();
    // The test filled the bucket picker.
    expect(screen.getByLabelText("Or pick one of your buckets")).toHaveValue("my-streams");
  });

  it("marks the failing step of a connection test", async () => {
    backend({}, {
      storage_test: () => ({ profile: "r2-archive", endpoint: "https://x.r2.cloudflarestorage.com", bucket: "archive", buckets: null, buckets_error: "This key may not list buckets.", bucket_error: "The bucket archive does not exist: check its name.", write_read_error: null, ok: false }),
    });
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /r2-archive/ }));
    await user.click(await screen.findByRole("button", { name: "Test connection" }));
    const step = await screen.findByText("The bucket archive does not exist: check its name.");
    expect(step.parentElement).toHaveTextContent("Failed:");
    expect(screen.getByText("This key may not list buckets.").parentElement).toHaveTextContent("Note:");
    expect(screen.getByText("Writing a test file was not tried.")).toBeInTheDocument();
    expect(screen.getByText(/Not ready yet/)).toBeInTheDocument();
  });

  it("fills the bucket picker from storage_buckets", async () => {
    const b = backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /oss-hangzhou/ }));
    await user.click(screen.getByRole("button", { name: "List my buckets" }));
    const picker = await screen.findByLabelText("Or pick one of your buckets");
    await user.selectOptions(picker, "backups");
    expect(screen.getByLabelText("Bucket")).toHaveValue("backups");
    expect(b.of("storage_buckets")).toEqual([{ name: "oss-hangzhou" }]);
  });

  it("shows the retention of the templates that upload to a profile", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /oss-hangzhou/ }));
    const table = await screen.findByRole("table", { name: "How long copies stay on this computer" });
    expect(within(table).getByText("studio/*")).toBeInTheDocument();
    expect(within(table).getByText("7d after upload")).toBeInTheDocument();
  });

  it("refuses to delete a profile templates use, with the engine's reason", async () => {
    backend();
    const user = userEvent.setup();
    renderIn(<StorageScreen />);
    await user.click(await screen.findByRole("button", { name: /oss-hangzhou/ }));
    await user.click(screen.getByRole("button", { name: "Delete" }));
    await user.click(screen.getByRole("button", { name: "Remove bucket" }));
    expect(await screen.findByText(/Templates still upload to oss-hangzhou \(studio\/\*\)/)).toBeInTheDocument();
  });
});

describe("upload queue", () => {
  it("shows each file with a progress bar, speed, tries and problems in words", async () => {
    backend();
    renderIn(<StorageScreen />);
    const table = await screen.findByRole("table", { name: "Upload queue" });
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(5); // header + 4 waiting (the done one is hidden)
    const first = rows[1];
    expect(within(first).getByRole("progressbar", { name: /Upload progress of record\/studio\/cam1/ })).toHaveAttribute("value", "59");
    expect(within(first).getByText("19.2 Mbit/s")).toBeInTheDocument();
    expect(within(table).getByText(/The bucket did not answer in time \(network\)\. Tapedeck tries again in 40 s\. Next try at/)).toBeInTheDocument();
  });

  it("moves progress with upload events and shows a bucket that is down", async () => {
    const b = backend();
    renderIn(<StorageScreen />);
    const table = await screen.findByRole("table", { name: "Upload queue" });
    const key = "record/studio/cam1/1765026000_412.ts";
    await act(() => b.emit("engine-event", { source: "upload", event: { event: "progress", profile: "oss-hangzhou", key, sent: 22_000_000 * 0.9, bytes: 22_000_000, rate_bps: 1_000_000 } }));
    await waitFor(() => expect(within(table).getByRole("progressbar", { name: `Upload progress of ${key}` })).toHaveAttribute("value", "90"));
    await act(() => b.emit("engine-event", { source: "upload", event: { event: "bucket_down", profile: "r2-archive", error: "The address did not answer.", retry_in_secs: 30 } }));
    expect(await screen.findByText(/The bucket r2-archive cannot be reached: The address did not answer\. Tapedeck tries again in 30 s/)).toBeInTheDocument();
    await act(() => b.emit("engine-event", { source: "upload", event: { event: "bucket_back", profile: "r2-archive" } }));
    await waitFor(() => expect(screen.queryByText(/The bucket r2-archive cannot be reached/)).toBeNull());
  });

  it("applies retrying, done and lost events to the right row only", () => {
    const base = { id: 1, generation: 1, profile: "p", key: "k", path: "/k", kind: "mp4", group: "", bytes: 100, mtime_ms: 0, state: "queued", attempts: 1, next_attempt_ms: 0, last_error: null, upload_id: null, part_size: null, sent_bytes: 10, rate_bps: 5, keep_local: "", keep_group: "", keep_max: null, queued_ms: 0, done_ms: null, local_deleted_ms: null } satisfies Upload;
    const other = { ...base, id: 2, key: "other" };
    let list: Upload[] = [{ ...base }, { ...other }];
    list = applyUploadEvent(list, { source: "upload", event: { event: "retrying", profile: "p", key: "k", attempt: 2, error: "Timed out.", retry_in_secs: 10 } });
    expect(list[0]).toMatchObject({ attempts: 2, last_error: "Timed out.", rate_bps: 0 });
    expect(list[1]).toEqual(other);
    list = applyUploadEvent(list, { source: "upload", event: { event: "done", profile: "p", key: "k", bytes: 100, resumed_parts: 0, parts: 1, queued_ms: 0, done_ms: 5 } });
    expect(list[0]).toMatchObject({ state: "done", sent_bytes: 100, done_ms: 5, last_error: null });
    list = applyUploadEvent(list, { source: "upload", event: { event: "lost", profile: "p", key: "other", reason: "The file was deleted before upload." } });
    expect(list[1]).toMatchObject({ state: "lost", last_error: "The file was deleted before upload." });
  });
});
